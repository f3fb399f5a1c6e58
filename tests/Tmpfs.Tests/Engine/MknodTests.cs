namespace Tmpfs.Tests.Engine;

public class MknodTests : EngineTest
{
    public MknodTests()
    {
        Create("/f");
        Fs.Mkdir("/pub", 0x1FF /* 0777 */);
        Fs.Mkdir("/ro", 0x16D /* 0555 */);
        Create("/pub/rootf");
    }

    [Fact]
    public void MakesEachKindOfNode()
    {
        Assert.Equal(FileModes.Fifo | 0x1A4, Fs.Mknod("/fifo", FileModes.Fifo | 0x1A4 /* 0644 */).Mode);
        Assert.Equal(FileModes.Socket | 0x1A4, Fs.Mknod("/sock", FileModes.Socket | 0x1A4 /* 0644 */).Mode);
        var c = Fs.Mknod("/chr", FileModes.CharDevice | 0x1A4 /* 0644 */, rdev: 0x103);
        Assert.Equal(0x103ul, c.Rdev);
        Assert.Equal(0x801ul, Fs.Mknod("/blk", FileModes.BlockDevice | 0x1A4 /* 0644 */, rdev: 0x801).Rdev);
        Assert.Equal(FileModes.Regular | 0x1A4, Fs.Mknod("/reg", FileModes.Regular | 0x1A4 /* 0644 */).Mode);
    }

    [Fact]
    public void TypeZeroIsARegularFile()
    {
        // kernel 6.18: mknod(path, 0644) makes 0100644.
        Assert.Equal(FileModes.Regular | 0x1A4, Fs.Mknod("/n0", 0x1A4 /* 0644 */).Mode);
    }

    [Fact]
    public void AFifoIgnoresRdev()
    {
        // kernel 6.18: mknod(fifo, makedev(1,3)) has st_rdev 0.
        Assert.Equal(0ul, Fs.Mknod("/nf", FileModes.Fifo | 0x1A4 /* 0644 */, rdev: 0x103).Rdev);
    }

    [Fact]
    public void RootKeepsSetIdBits()
    {
        Assert.Equal(FileModes.Regular | 0xDED, Fs.Mknod("/nsu", FileModes.Regular | 0xDED /* 06755 */).Mode);
    }

    [Theory]
    [InlineData("/nd", FileModes.Directory | 0x1A4, Errno.EPERM)]
    [InlineData("/missing/x", FileModes.Directory | 0x1A4, Errno.EPERM)] // kernel 6.18: the type is checked before the lookup
    [InlineData("/nb", 0xF000 | 0x1A4, Errno.EINVAL)]
    [InlineData("/f", 0xF000 | 0x1A4, Errno.EINVAL)]
    [InlineData("/nx/", FileModes.Fifo | 0x1A4, Errno.ENOENT)]
    [InlineData("/f/", FileModes.Fifo | 0x1A4, Errno.EEXIST)]
    [InlineData("/f", FileModes.Fifo | 0x1A4, Errno.EEXIST)]
    [InlineData("/missing/x", FileModes.Fifo | 0x1A4, Errno.ENOENT)]
    public void MknodFails(string path, int mode, Errno errno) => Fails(errno, () => Fs.Mknod(path, mode)); // kernel 6.18

    [Fact]
    public void DevicesNeedCapMknodButOnlyAfterTheNameAndDirectoryChecks()
    {
        // kernel 6.18, uid 1000: mknod(chr) in 0777 dir = EPERM; over an existing name = EEXIST;
        // in a 0555 directory = EACCES. A fifo works.
        Fails(Errno.EPERM, () => Fs.Mknod("/pub/c", FileModes.CharDevice | 0x1A4 /* 0644 */, 0x103, Alice));
        Fails(Errno.EEXIST, () => Fs.Mknod("/pub/rootf", FileModes.CharDevice | 0x1A4 /* 0644 */, 0x103, Alice));
        Fails(Errno.EACCES, () => Fs.Mknod("/ro/c", FileModes.CharDevice | 0x1A4 /* 0644 */, 0x103, Alice));
        Assert.Equal(1000u, Fs.Mknod("/pub/fifo", FileModes.Fifo | 0x1A4 /* 0644 */, cred: Alice).Uid);
    }
}
