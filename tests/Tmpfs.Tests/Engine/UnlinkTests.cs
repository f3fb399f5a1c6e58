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

/// <summary>
/// An unlink takes the name out of the directory's index before its checks and puts it back
/// when one refuses: a refused unlink must leave the directory exactly as it was.
/// </summary>
public class RefusedUnlinkTests : EngineTest
{
    [Fact]
    public void ARefusedUnlinkLeavesTheEntryItsCookieAndOrderAsTheyWere()
    {
        Fs.Mkdir("/t", 0x3FF /* 01777: sticky, world-writable */);
        foreach (var name in new[] { "a", "b", "c" })
        {
            Create($"/t/{name}", name);
        }

        Fs.Mkdir("/t/sub", 0x1ED);
        Fs.Chown("/t/b", Alice.Uid, Alice.Gid);
        var before = Fs.ReadDirectory("/t").Select(e => (e.Name, e.Ino, e.NextCookie)).ToList();

        Assert.Equal(Errno.EISDIR, Assert.Throws<TmpfsException>(() => Fs.Unlink("/t/sub")).Errno);
        Assert.Equal(Errno.ENOTDIR, Assert.Throws<TmpfsException>(() => Fs.Unlink("/t/a/")).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<TmpfsException>(() => Fs.Unlink("/t/c", Bob)).Errno); // sticky: Bob owns neither
        Assert.Equal(Errno.ENOENT, Assert.Throws<TmpfsException>(() => Fs.Unlink("/t/zz")).Errno);
        Fs.Chmod("/t", 0x3ED /* 01755 */);
        Assert.Equal(Errno.EACCES, Assert.Throws<TmpfsException>(() => Fs.Unlink("/t/b", Alice)).Errno); // no write permission
        Fs.Chmod("/t", 0x3FF);

        Assert.Equal(before, Fs.ReadDirectory("/t").Select(e => (e.Name, e.Ino, e.NextCookie)).ToList());
        Assert.Equal("c", ReadText("/t/c"));

        // The same names can still be looked up, removed and created again.
        Fs.Unlink("/t/b", Alice);
        Fs.Unlink("/t/a");
        Create("/t/a", "again");
        Assert.Equal(["a", "c", "sub"], Names("/t"));
        Assert.Equal("again", ReadText("/t/a"));
    }
}
