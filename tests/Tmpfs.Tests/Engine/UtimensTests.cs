namespace Tmpfs.Tests.Engine;

public class UtimensTests : EngineTest
{
    public UtimensTests()
    {
        Create("/others", "x", 0x1B6 /* 0666 */);
        Fs.Chown("/others", 2000, 2000);
        Create("/others_ro", "x", 0x1A4 /* 0644 */);
        Fs.Chown("/others_ro", 2000, 2000);
    }

    [Fact]
    public void ExplicitTimesAndCtimeNow()
    {
        Clock.Advance();
        Fs.Utimens("/others", new Timespec(5, 6), new Timespec(7, 8));
        var st = Fs.Stat("/others");
        Assert.Equal(new Timespec(5, 6), st.Atime);
        Assert.Equal(new Timespec(7, 8), st.Mtime);
        Assert.Equal(Clock.Now, st.Ctime);
    }

    [Fact]
    public void NowAndOmit()
    {
        var before = Fs.Stat("/others");
        Clock.Advance();
        Fs.Utimens("/others", Timespec.Now, Timespec.Omit);
        var st = Fs.Stat("/others");
        Assert.Equal(Clock.Now, st.Atime);
        Assert.Equal(before.Mtime, st.Mtime);
        Assert.Equal(Clock.Now, st.Ctime);
    }

    [Fact]
    public void OmitBothChangesNothingAndDoesNotEvenLookUpThePath()
    {
        // kernel 6.18: utimensat(missing, {OMIT, OMIT}) = 0, also for a caller with no rights.
        var before = Snapshot();
        Clock.Advance();
        Fs.Utimens("/others_ro", Timespec.Omit, Timespec.Omit, Alice);
        Fs.Utimens("/missing", Timespec.Omit, Timespec.Omit);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void NonOwnerWithWritePermissionMayTouchToNow()
    {
        Clock.Advance();
        Fs.Utimens("/others", Timespec.Now, Timespec.Now, Alice);
        Assert.Equal(Clock.Now, Fs.Stat("/others").Mtime);
    }

    [Fact]
    public void NonOwnerWithoutWritePermissionTouchingIsEACCES() =>
        Fails(Errno.EACCES, () => Fs.Utimens("/others_ro", Timespec.Now, Timespec.Now, Alice));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NonOwnerSettingExplicitTimesIsEPERM(bool nowAndOmit)
    {
        // kernel 6.18: explicit times, and also {NOW, OMIT}, need ownership even with write permission.
        var atime = nowAndOmit ? Timespec.Now : new Timespec(1, 0);
        var mtime = nowAndOmit ? Timespec.Omit : new Timespec(1, 0);
        Fails(Errno.EPERM, () => Fs.Utimens("/others", atime, mtime, Alice));
    }

    [Fact]
    public void BadNanosecondsAreEINVALBeforePermissionButAfterLookup()
    {
        // kernel 6.18: {2e9 ns} on another's read-only file = EINVAL; on a missing path = ENOENT.
        Fails(Errno.EINVAL, () => Fs.Utimens("/others_ro", new Timespec(0, 2_000_000_000), Timespec.Now, Alice));
        Fails(Errno.EINVAL, () => Fs.Utimens("/others", new Timespec(0, -1), Timespec.Omit));
        Fails(Errno.ENOENT, () => Fs.Utimens("/missing", new Timespec(0, 2_000_000_000), Timespec.Now, Alice));
    }

    [Fact]
    public void SymlinkItselfWithoutFollow()
    {
        Fs.Symlink("others", "/l");
        Fs.Utimens("/l", new Timespec(3, 0), new Timespec(4, 0), follow: false);
        Assert.Equal(new Timespec(4, 0), Fs.Stat("/l", follow: false).Mtime);
        Assert.NotEqual(new Timespec(4, 0), Fs.Stat("/others").Mtime);
    }
}
