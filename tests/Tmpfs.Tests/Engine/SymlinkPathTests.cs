namespace Tmpfs.Tests.Engine;

public class SymlinkPathTests : EngineTest
{
    public SymlinkPathTests()
        : base("size=1M,nr_inodes=200")
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Fs.Mkdir("/d/sub", 0x1ED /* 0755 */);
        Create("/f", "hello");
        Fs.Symlink("f", "/lf");
        Fs.Symlink("d", "/ld");
        Fs.Symlink("nowhere", "/dang");
    }

    [Fact]
    public void SymlinkStoresTheTargetAsGiven()
    {
        var st = Fs.Symlink("../some/where", "/d/l");
        Assert.Equal(FileModes.Symlink | 0x1FF, st.Mode);
        Assert.Equal(13, st.Size);
        Assert.Equal(0, st.Blocks); // kernel 6.18: short targets live in the inode
        Assert.Equal("../some/where", Fs.ReadLink("/d/l"));
    }

    [Fact]
    public void ALongTargetTakesAPage()
    {
        // kernel 6.18: a 200-byte target has st_blocks 8; 4095 bytes is the longest.
        Assert.Equal(8, Fs.Symlink(new string('a', 200), "/long").Blocks);
        Assert.Equal(4095, Fs.Symlink(new string('a', 4095), "/longest").Size);
        Fails(Errno.ENAMETOOLONG, () => Fs.Symlink(new string('a', 4096), "/toolong"));
    }

    [Theory]
    [InlineData("", "/s0", Errno.ENOENT)]
    [InlineData("x", "/f", Errno.EEXIST)]
    [InlineData("x", "/d/", Errno.EEXIST)]
    [InlineData("x", "/sx/", Errno.ENOENT)]
    [InlineData("x", "/missing/s", Errno.ENOENT)]
    public void SymlinkFails(string target, string path, Errno errno) => Fails(errno, () => Fs.Symlink(target, path)); // kernel 6.18

    [Theory]
    [InlineData("/f", Errno.EINVAL)]
    [InlineData("/ld/", Errno.EINVAL)] // follows to the directory, which is no symlink
    [InlineData("/missing", Errno.ENOENT)]
    public void ReadLinkFails(string path, Errno errno) => Fails(errno, () => Fs.ReadLink(path));

    [Fact]
    public void ForMaxSymlinks40ResolveAnd41AreELOOP()
    {
        // kernel 6.18: c0 -> c1 -> ... -> c40 -> f: stat(c1) works (40 links), stat(c0) is ELOOP.
        for (var i = 0; i <= 40; i++)
        {
            Fs.Symlink(i < 40 ? $"c{i + 1}" : "f", $"/c{i}");
        }

        Assert.Equal(Fs.Stat("/f").Ino, Fs.Stat("/c1").Ino);
        Fails(Errno.ELOOP, () => Fs.Stat("/c0"));
        Assert.True(Fs.Stat("/c0", follow: false).IsSymlink);
        Fails(Errno.ENOTDIR, () => Fs.Stat("/c1/"));
    }

    [Fact]
    public void ASelfLoopIsELOOP()
    {
        Fs.Symlink("self", "/self");
        Fails(Errno.ELOOP, () => Fs.Stat("/self"));
        Fails(Errno.ELOOP, () => Fs.Open("/self", OpenFlags.Create | OpenFlags.WriteOnly));
        Fails(Errno.ELOOP, () => Fs.Stat("/self/x"));
        Assert.True(Fs.Stat("/self", follow: false).IsSymlink);
        Fs.Unlink("/self");
    }

    [Fact]
    public void DotAndDotDot()
    {
        var root = Fs.Stat("/").Ino;
        var d = Fs.Stat("/d").Ino;
        Assert.Equal(d, Fs.Stat("/d/.").Ino);
        Assert.Equal(d, Fs.Stat("/d/sub/..").Ino);
        Assert.Equal(root, Fs.Stat("/..").Ino);
        Assert.Equal(root, Fs.Stat("/d/../..").Ino);
        Assert.Equal(root, Fs.Stat("/ld/..").Ino); // ".." after a symlink is the target's parent
        Assert.Equal(d, Fs.Stat("//d//sub/../").Ino);
        Assert.Equal(d, Fs.Stat("d").Ino); // relative paths start at the root
    }

    [Theory]
    [InlineData("/f/.", Errno.ENOTDIR)]
    [InlineData("/f/..", Errno.ENOTDIR)]
    [InlineData("/f/", Errno.ENOTDIR)]
    [InlineData("/lf/", Errno.ENOTDIR)]
    [InlineData("/dang/x", Errno.ENOENT)]
    [InlineData("/dang", Errno.ENOENT)]
    [InlineData("/missing/..", Errno.ENOENT)]
    public void StatFails(string path, Errno errno) => Fails(errno, () => Fs.Stat(path)); // kernel 6.18

    [Fact]
    public void TrailingSlashFollowsASymlinkToADirectoryEvenForLstat()
    {
        // kernel 6.18: lstat("ld/") is the directory.
        Assert.True(Fs.Stat("/ld/", follow: false).IsDirectory);
        Assert.True(Fs.Stat("/ld", follow: false).IsSymlink);
    }

    [Fact]
    public void NamesLongerThan255BytesAreENAMETOOLONG()
    {
        var name255 = new string('a', 255);
        Create("/" + name255);
        Assert.True(Exists("/" + name255));
        Fails(Errno.ENAMETOOLONG, () => Fs.Stat("/" + new string('a', 256)));
        Fails(Errno.ENAMETOOLONG, () => Fs.Stat("/" + new string('a', 256) + "/x"));
        Fails(Errno.ENAMETOOLONG, () => Create("/" + new string('a', 256)));

        // The limit is in bytes: 128 two-byte characters are 256 bytes.
        Fails(Errno.ENAMETOOLONG, () => Create("/" + new string('é', 128)));
        Create("/" + new string('é', 127));
    }

    [Fact]
    public void PathsOf4096BytesAreENAMETOOLONG()
    {
        var path = "/" + string.Join('/', Enumerable.Repeat(new string('a', 200), 21));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(path) >= 4096);
        Fails(Errno.ENAMETOOLONG, () => Fs.Stat(path));
    }

    [Fact]
    public void NulInAPathIsEINVAL()
    {
        Fails(Errno.EINVAL, () => Fs.Stat("/f\0x"));
        Fails(Errno.EINVAL, () => Create("/a\0b"));
        Fails(Errno.EINVAL, () => Fs.Mkdir("/a\0b", 0x1ED /* 0755 */));
    }

    [Fact]
    public void EmptyPathIsENOENT()
    {
        Fails(Errno.ENOENT, () => Fs.Stat(string.Empty));
        Fails(Errno.ENOENT, () => Fs.Mkdir(string.Empty, 0x1ED /* 0755 */));
        Fails(Errno.ENOENT, () => Fs.Unlink(string.Empty));
    }

    [Fact]
    public void AbsoluteSymlinkTargetsResolveFromTheMountRoot()
    {
        Fs.Symlink("/d/sub", "/d/abs");
        Assert.Equal(Fs.Stat("/d/sub").Ino, Fs.Stat("/d/abs").Ino);
        Fs.Symlink("../f", "/d/rel");
        Assert.Equal("hello", ReadText("/d/rel"));
    }

    [Fact]
    public void SymlinkInTheMiddleOfAPath()
    {
        Create("/d/sub/x", "x");
        Assert.Equal("x", ReadText("/ld/sub/x"));
        Fails(Errno.ENOTDIR, () => Fs.Stat("/lf/x"));
    }
}
