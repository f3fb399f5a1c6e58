namespace Tmpfs.Tests.Engine;

/// <summary>Which operations change which times of which inodes (kernel 6.18, relatime).</summary>
public class TimestampTests : EngineTest
{
    public TimestampTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Fs.Mkdir("/e", 0x1ED /* 0755 */);
        Create("/d/f", "hello");
        Fs.Symlink("d/f", "/l");
        Clock.Advance();
    }

    /// <summary>"a", "m", "c" for each time of <paramref name="path"/> that equals the clock now.</summary>
    private string Changed(string path)
    {
        var st = Fs.Stat(path, follow: false);
        var now = Clock.Now;
        return (st.Atime == now ? "a" : string.Empty) + (st.Mtime == now ? "m" : string.Empty) + (st.Ctime == now ? "c" : string.Empty);
    }

    private void Step() => Clock.Advance();

    [Fact]
    public void NewInodesHaveAllTimesNowAndTheirDirectoryMtimeCtime()
    {
        Create("/d/g");
        Assert.Equal("amc", Changed("/d/g"));
        Assert.Equal("mc", Changed("/d"));
        Assert.Equal(Clock.Now, Fs.Stat("/d/g").Btime);
        Step();
        Fs.Mkdir("/d/m", 0x1ED /* 0755 */);
        Assert.Equal("mc", Changed("/d"));
        Step();
        Fs.Symlink("x", "/d/s");
        Assert.Equal("mc", Changed("/d"));
        Step();
        Fs.Mknod("/d/p", FileModes.Fifo | 0x1A4 /* 0644 */);
        Assert.Equal("mc", Changed("/d"));
    }

    [Fact]
    public void WriteChangesMtimeCtimeAndReadChangesAtimeOnce()
    {
        using var h = Fs.Open("/d/f", OpenFlags.ReadWrite);
        h.Write(Bytes("x"), 0);
        Assert.Equal("mc", Changed("/d/f"));
        Assert.Equal(string.Empty, Changed("/d"));
        Step();
        h.Read(new byte[1], 0);
        Assert.Equal("a", Changed("/d/f"));
        Step();
        h.Read(new byte[1], 0); // relatime: atime is newer than mtime and ctime now
        Assert.Equal(string.Empty, Changed("/d/f"));
    }

    [Fact]
    public void NoAtimeReadsLeaveAtime()
    {
        using var h = Fs.Open("/d/f", OpenFlags.ReadOnly | OpenFlags.NoAtime);
        h.Read(new byte[1], 0);
        Assert.Equal(string.Empty, Changed("/d/f"));
    }

    [Fact]
    public void OpenOfAnExistingFileWithCreateChangesNothing()
    {
        using (Fs.Open("/d/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
        }

        Assert.Equal(string.Empty, Changed("/d/f"));
        Assert.Equal(string.Empty, Changed("/d"));
    }

    [Fact]
    public void OTruncChangesMtimeCtimeEvenOfAnEmptyFile()
    {
        Fs.Truncate("/d/f", 0);
        Step();
        using (Fs.Open("/d/f", OpenFlags.WriteOnly | OpenFlags.Truncate))
        {
        }

        Assert.Equal("mc", Changed("/d/f"));
    }

    [Fact]
    public void LinkAndUnlinkChangeTheFileCtimeAndTheDirectory()
    {
        Fs.Link("/d/f", "/d/h");
        Assert.Equal("c", Changed("/d/f"));
        Assert.Equal("mc", Changed("/d"));
        Step();
        Fs.Unlink("/d/h");
        Assert.Equal("c", Changed("/d/f"));
        Assert.Equal("mc", Changed("/d"));
    }

    [Fact]
    public void UnlinkOfAnOpenFileChangesItsCtime()
    {
        using var h = Fs.Open("/d/f", OpenFlags.ReadOnly);
        Fs.Unlink("/d/f");
        Assert.Equal(Clock.Now, h.Stat().Ctime);
        Assert.NotEqual(Clock.Now, h.Stat().Mtime);
    }

    [Fact]
    public void RenameChangesBothDirectoriesAndTheMovedInodeCtime()
    {
        Fs.Rename("/d/f", "/e/f");
        Assert.Equal("mc", Changed("/d"));
        Assert.Equal("mc", Changed("/e"));
        Assert.Equal("c", Changed("/e/f"));
    }

    [Fact]
    public void RenameOverAnOpenFileChangesTheReplacedCtime()
    {
        Create("/e/t", "t");
        Step();
        using var h = Fs.Open("/e/t", OpenFlags.ReadOnly);
        Fs.Rename("/d/f", "/e/t");
        Assert.Equal(Clock.Now, h.Stat().Ctime);
        Assert.Equal(0u, h.Stat().Nlink);
    }

    [Fact]
    public void ExchangeChangesBothInodesCtime()
    {
        Create("/e/t", "t");
        Step();
        Fs.Rename("/d/f", "/e/t", RenameFlags.Exchange);
        Assert.Equal("c", Changed("/d/f"));
        Assert.Equal("c", Changed("/e/t"));
        Assert.Equal("mc", Changed("/d"));
        Assert.Equal("mc", Changed("/e"));
    }

    [Fact]
    public void AttributeChangesTouchCtimeOnly()
    {
        Fs.Chmod("/d/f", 0x180 /* 0600 */);
        Assert.Equal("c", Changed("/d/f"));
        Step();
        Fs.Chown("/d/f", 1, 1);
        Assert.Equal("c", Changed("/d/f"));
        Step();
        Fs.SetXattr("/d/f", "user.a", Bytes("1"));
        Assert.Equal("c", Changed("/d/f"));
        Step();
        Fs.GetXattr("/d/f", "user.a");
        Fs.ListXattr("/d/f");
        Assert.Equal(string.Empty, Changed("/d/f"));
        Fs.RemoveXattr("/d/f", "user.a");
        Assert.Equal("c", Changed("/d/f"));
        Assert.Equal(string.Empty, Changed("/d"));
    }

    [Fact]
    public void ReaddirAndReadlinkChangeAtimeUnderRelatime()
    {
        Fs.ReadDirectory("/d");
        Assert.Equal("a", Changed("/d")); // atime was not newer than mtime (relatime)
        Step();
        Fs.ReadDirectory("/d");
        Assert.Equal(string.Empty, Changed("/d")); // now it is
        Fs.Utimens("/d", new Timespec(1, 0), Timespec.Omit);
        Step();
        Fs.ReadDirectory("/d");
        Assert.Equal("a", Changed("/d"));
        Fs.Utimens("/l", new Timespec(1, 0), Timespec.Omit, follow: false);
        Step();
        Fs.ReadLink("/l");
        Assert.Equal("a", Changed("/l"));
    }

    [Fact]
    public void RelatimeUpdatesADayOldAtime()
    {
        using var h = Fs.Open("/d/f", OpenFlags.ReadOnly);
        h.Read(new byte[1], 0);
        Clock.Advance(24 * 3600);
        h.Read(new byte[1], 0);
        Assert.Equal("a", Changed("/d/f"));
    }

    [Fact]
    public void StatAndFailedCallsChangeNothing()
    {
        Fs.Stat("/d/f");
        Fs.Access("/d/f", AccessMode.Read);
        Assert.Equal(string.Empty, Changed("/d/f"));
        Assert.Equal(string.Empty, Changed("/d"));
    }

    [Fact]
    public void RmdirChangesTheParent()
    {
        Fs.Mkdir("/d/m", 0x1ED /* 0755 */);
        Step();
        Fs.Rmdir("/d/m");
        Assert.Equal("mc", Changed("/d"));
    }
}
