namespace Tmpfs.Tests.Engine;

public class MkdirRmdirTests : EngineTest
{
    public MkdirRmdirTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Create("/f");
        Fs.Symlink("nowhere", "/dang");
        Fs.Symlink("d", "/ld");
    }

    [Fact]
    public void MkdirCountsLinksAndSizes()
    {
        // kernel 6.18: a directory's size is 40 + 20 per entry; nlink is 2 + subdirectories.
        var root = Fs.Stat("/");
        var st = Fs.Mkdir("/d/sub", 0x1ED /* 0755 */);
        Assert.Equal(2u, st.Nlink);
        Assert.Equal(40, st.Size);
        Assert.Equal(3u, Fs.Stat("/d").Nlink);
        Assert.Equal(60, Fs.Stat("/d").Size);
        Assert.Equal(root.Nlink, Fs.Stat("/").Nlink);
        Fs.Rmdir("/d/sub");
        Assert.Equal(2u, Fs.Stat("/d").Nlink);
        Assert.Equal(40, Fs.Stat("/d").Size);
    }

    [Fact]
    public void MkdirKeepsOnlyPermissionsAndSticky()
    {
        // kernel 6.18: mkdir(07777) (umask 022) gives 041755: set-uid and set-gid are dropped.
        var st = Fs.Mkdir("/m", 0xFFF /* 07777 */);
        Assert.Equal(FileModes.Directory | 0x3FF /* 01777 */, st.Mode);
    }

    [Fact]
    public void MkdirWithTrailingSlashWorks()
    {
        Fs.Mkdir("/n/", 0x1ED /* 0755 */);
        Assert.True(Fs.Stat("/n").IsDirectory);
    }

    [Theory]
    [InlineData("/d", Errno.EEXIST)]
    [InlineData("/f", Errno.EEXIST)]
    [InlineData("/dang", Errno.EEXIST)] // kernel 6.18: mkdir does not follow a dangling symlink
    [InlineData("/d/.", Errno.EEXIST)]
    [InlineData("/d/..", Errno.EEXIST)]
    [InlineData("/", Errno.EEXIST)]
    [InlineData("/missing/x", Errno.ENOENT)]
    [InlineData("/f/x", Errno.ENOTDIR)]
    public void MkdirFails(string path, Errno errno) => Fails(errno, () => Fs.Mkdir(path, 0x1ED /* 0755 */));

    [Fact]
    public void MkdirNameOf255BytesWorksAnd256IsENAMETOOLONG()
    {
        Fs.Mkdir("/" + new string('a', 255), 0x1ED /* 0755 */);
        Fails(Errno.ENAMETOOLONG, () => Fs.Mkdir("/" + new string('a', 256), 0x1ED /* 0755 */));
    }

    [Fact]
    public void MkdirInARemovedDirectoryIsENOENT()
    {
        Fs.Mkdir("/gone", 0x1ED /* 0755 */);
        Fs.Rmdir("/gone");
        Fails(Errno.ENOENT, () => Fs.Mkdir("/gone/x", 0x1ED /* 0755 */));
    }

    [Fact]
    public void RmdirRemoves()
    {
        Fs.Rmdir("/d");
        Assert.False(Exists("/d"));
    }

    [Fact]
    public void RmdirWithTrailingSlashWorks()
    {
        Fs.Rmdir("/d/");
        Assert.False(Exists("/d"));
    }

    [Theory]
    [InlineData("/d/.", Errno.EINVAL)]
    [InlineData("/d/..", Errno.ENOTEMPTY)]
    [InlineData("/", Errno.EBUSY)]
    [InlineData("/f", Errno.ENOTDIR)]
    [InlineData("/f/", Errno.ENOTDIR)]
    [InlineData("/ld", Errno.ENOTDIR)] // kernel 6.18: rmdir does not follow the final symlink
    [InlineData("/ld/", Errno.ENOTDIR)]
    [InlineData("/missing", Errno.ENOENT)]
    [InlineData("/missing/x", Errno.ENOENT)]
    public void RmdirFails(string path, Errno errno) => Fails(errno, () => Fs.Rmdir(path));

    [Fact]
    public void RmdirOfANonEmptyDirectoryIsENOTEMPTY()
    {
        Create("/d/x");
        Fails(Errno.ENOTEMPTY, () => Fs.Rmdir("/d"));
    }

    [Fact]
    public void AnOpenRemovedDirectoryReadsEmptyAndRefusesCreates()
    {
        using var h = Fs.OpenDirectory("/d");
        Fs.Rmdir("/d");
        var entries = h.Read(0, 10);
        Assert.Equal([".", ".."], entries.Select(e => e.Name));
    }
}
