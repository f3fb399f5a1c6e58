namespace Tmpfs.Tests.Engine;

public class UnlinkTests : EngineTest
{
    public UnlinkTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Create("/f", "data");
        Fs.Symlink("nowhere", "/dang");
        Fs.Symlink("d", "/ld");
        Fs.Symlink("f", "/lf");
    }

    [Fact]
    public void UnlinkRemovesTheNameAndFreesTheFile()
    {
        var used = Fs.UsedInodes;
        var bytes = Fs.UsedBytes;
        Fs.Unlink("/f");
        Assert.False(Exists("/f"));
        Assert.Equal(used - 1, Fs.UsedInodes);
        Assert.Equal(bytes - 4096, Fs.UsedBytes);
    }

    [Fact]
    public void UnlinkOfASymlinkRemovesTheLinkNotTheTarget()
    {
        Fs.Unlink("/lf");
        Assert.False(Exists("/lf"));
        Assert.Equal("data", ReadText("/f"));
        Fs.Unlink("/ld");
        Assert.True(Fs.Stat("/d").IsDirectory);
    }

    [Theory]
    [InlineData("/d", Errno.EISDIR)]
    [InlineData("/d/", Errno.EISDIR)]
    [InlineData("/", Errno.EISDIR)]
    [InlineData("/d/.", Errno.EISDIR)]
    [InlineData("/d/..", Errno.EISDIR)]
    [InlineData("/f/", Errno.ENOTDIR)]
    [InlineData("/dang/", Errno.ENOTDIR)]
    [InlineData("/ld/", Errno.ENOTDIR)]
    [InlineData("/missing", Errno.ENOENT)]
    [InlineData("/missing/", Errno.ENOENT)]
    [InlineData("/f/x", Errno.ENOTDIR)]
    public void UnlinkFails(string path, Errno errno) => Fails(errno, () => Fs.Unlink(path)); // kernel 6.18

    [Fact]
    public void UnlinkOneOfTwoLinksKeepsTheFile()
    {
        Fs.Link("/f", "/g");
        Assert.Equal(2u, Fs.Stat("/f").Nlink);
        Fs.Unlink("/f");
        Assert.Equal(1u, Fs.Stat("/g").Nlink);
        Assert.Equal("data", ReadText("/g"));
    }

    [Fact]
    public void UnlinkedOpenFileKeepsItsDataUntilTheLastClose()
    {
        var h = Fs.Open("/f", OpenFlags.ReadWrite);
        var free = Memory.FreeBytes;
        Fs.Unlink("/f");
        Assert.Equal(0u, h.Stat().Nlink);
        h.Write(Bytes("more"), 4);
        var b = new byte[8];
        Assert.Equal(8, h.Read(b, 0));
        Assert.Equal("datamore", System.Text.Encoding.ASCII.GetString(b));
        Assert.Equal(free, Memory.FreeBytes);
        h.Dispose();
        Assert.Equal(free + 4096, Memory.FreeBytes);
    }
}
