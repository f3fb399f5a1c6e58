namespace Tmpfs.Tests.Engine;

public class TmpfileTests : EngineTest
{
    public TmpfileTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Create("/f", "f");
    }

    [Fact]
    public void AnUnnamedFileThatCanBeLinkedOnce()
    {
        using var h = Fs.Open("/d", OpenFlags.TmpFile | OpenFlags.ReadWrite, 0x180 /* 0600 */);
        var st = h.Stat();
        Assert.Equal(0u, st.Nlink);
        Assert.Equal(FileModes.Regular | 0x180, st.Mode);
        Assert.Empty(Fs.ReadDirectory("/d"));
        h.Write(Bytes("tmp"), 0);
        Fs.LinkHandle(h, "/d/named");
        Assert.Equal(1u, h.Stat().Nlink);
        Assert.Equal("tmp", ReadText("/d/named"));
        Fs.LinkHandle(h, "/d/named2"); // kernel 6.18: a second linkat works too, nlink 2
        Assert.Equal(2u, h.Stat().Nlink);
    }

    [Fact]
    public void UnlinkedTmpfileIsFreedAtClose()
    {
        var inodes = Fs.UsedInodes;
        var free = Memory.FreeBytes;
        var h = Fs.Open("/d", OpenFlags.TmpFile | OpenFlags.WriteOnly, 0x180 /* 0600 */);
        h.Write(new byte[8192], 0);
        Assert.Equal(inodes + 1, Fs.UsedInodes);
        h.Dispose();
        Assert.Equal(inodes, Fs.UsedInodes);
        Assert.Equal(free, Memory.FreeBytes);
    }

    [Theory]
    [InlineData("/d", OpenFlags.TmpFile | OpenFlags.ReadOnly, Errno.EINVAL)]
    [InlineData("/d", OpenFlags.TmpFile | OpenFlags.ReadWrite | OpenFlags.Create, Errno.EINVAL)]
    [InlineData("/f", OpenFlags.TmpFile | OpenFlags.ReadWrite, Errno.ENOTDIR)]
    [InlineData("/missing", OpenFlags.TmpFile | OpenFlags.ReadWrite, Errno.ENOENT)]
    public void OpenFails(string path, OpenFlags flags, Errno errno) => Fails(errno, () => Fs.Open(path, flags)); // kernel 6.18

    [Fact]
    public void ExclusiveTmpfileCannotBeLinked()
    {
        using var h = Fs.Open("/d", OpenFlags.TmpFile | OpenFlags.ReadWrite | OpenFlags.Exclusive, 0x180 /* 0600 */);
        Fails(Errno.ENOENT, () => Fs.LinkHandle(h, "/d/x"));
    }

    [Fact]
    public void AnUnlinkedOrdinaryFileCannotBeLinkedBack()
    {
        using var h = Fs.Open("/f", OpenFlags.ReadWrite);
        Fs.Unlink("/f");
        Fails(Errno.ENOENT, () => Fs.LinkHandle(h, "/f2"));
    }

    [Fact]
    public void LinkingATmpfileDoesNotChargeInodeSpaceTwice()
    {
        // selftests/tmpfs/bug-link-o-tmpfile.c: nr_inodes=3, O_TMPFILE + linkat must work.
        using var memory = new MemoryManager(1 << 20);
        var fs = memory.Mount("nr_inodes=3");
        using (var h = fs.Open("/", OpenFlags.TmpFile | OpenFlags.ReadWrite, 0x180 /* 0600 */))
        {
            fs.LinkHandle(h, "/named");
        }

        using (fs.Open("/g", OpenFlags.Create | OpenFlags.WriteOnly))
        {
        }

        Assert.Equal(0, fs.StatFs().FilesFree);
        fs.Unmount();
    }

    [Fact]
    public void TmpfileInASetGidDirectoryTakesItsGroup()
    {
        Fs.Chown("/d", 0, 50);
        Fs.Chmod("/d", 0x5FF /* 02777 */);
        using var h = Fs.Open("/d", OpenFlags.TmpFile | OpenFlags.ReadWrite, 0x180 /* 0600 */, Alice);
        Assert.Equal(50u, h.Stat().Gid);
        Assert.Equal(1000u, h.Stat().Uid);
    }
}
