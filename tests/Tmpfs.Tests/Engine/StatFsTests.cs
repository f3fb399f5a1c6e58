namespace Tmpfs.Tests.Engine;

public class StatFsTests : EngineTest
{
    public StatFsTests()
        : base("size=1M,nr_inodes=16")
    {
    }

    [Fact]
    public void FreshMount()
    {
        // kernel 6.18, size=1M,nr_inodes=16: bsize 4096, blocks 256 free 256, files 16 ffree 15, namemax 255.
        var s = Fs.StatFs();
        Assert.Equal(0x01021994, s.Type);
        Assert.Equal(4096, s.BlockSize);
        Assert.Equal(4096, s.FragmentSize);
        Assert.Equal(256, s.Blocks);
        Assert.Equal(256, s.BlocksFree);
        Assert.Equal(256, s.BlocksAvailable);
        Assert.Equal(16, s.Files);
        Assert.Equal(15, s.FilesFree);
        Assert.Equal(255, s.NameLength);
    }

    [Fact]
    public void CountsPagesInodesAndLinks()
    {
        using (var h = Fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            h.Write(new byte[4097], 0);
        }

        Fs.Link("/f", "/g");
        var s = Fs.StatFs();
        Assert.Equal(254, s.BlocksFree);
        Assert.Equal(13, s.FilesFree);
    }

    [Fact]
    public void UnlimitedMountReportsZeros()
    {
        using var memory = new MemoryManager(1 << 20);
        var fs = memory.Mount("size=0,nr_inodes=0");
        var s = fs.StatFs();
        Assert.Equal(0, s.Blocks);
        Assert.Equal(0, s.BlocksFree);
        Assert.Equal(0, s.Files);
        Assert.Equal(0, s.FilesFree);
        fs.Unmount();
    }

    [Fact]
    public void AfterUnmountIsENODEV()
    {
        Fs.Unmount();
        Assert.Equal(Errno.ENODEV, Err(() => Fs.StatFs()));
        Assert.Equal(Errno.ENODEV, Err(() => Fs.Stat("/")));
    }
}
