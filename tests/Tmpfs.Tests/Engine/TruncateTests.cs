namespace Tmpfs.Tests.Engine;

public class TruncateTests : EngineTest
{
    public TruncateTests()
    {
        Create("/f", "hello");
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Fs.Symlink("f", "/lf");
    }

    [Fact]
    public void ShrinkCutsAndGrowReadsZeros()
    {
        Fs.Truncate("/f", 2);
        Fs.Truncate("/f", 6);
        using var h = Open("/f", OpenFlags.ReadOnly);
        var b = new byte[6];
        Assert.Equal(6, h.Read(b, 0));
        Assert.Equal(new byte[] { (byte)'h', (byte)'e', 0, 0, 0, 0 }, b);
    }

    [Fact]
    public void ShrinkToZeroFreesEveryPage()
    {
        using (var h = Fs.Open("/f", OpenFlags.WriteOnly))
        {
            h.Write(new byte[3 * 4096], 0);
        }

        var used = Fs.UsedBytes;
        Fs.Truncate("/f", 0);
        Assert.Equal(0, Fs.Stat("/f").Blocks);
        Assert.Equal(used - (3 * 4096), Fs.UsedBytes);
    }

    [Fact]
    public void GrowingIsSparseEvenPastTheSizeLimit()
    {
        // kernel 6.18: truncate to 1 TiB on size=1M works; st_blocks stays at the one data page.
        Fs.Truncate("/f", 1L << 40);
        Assert.Equal(1L << 40, Fs.Stat("/f").Size);
        Assert.Equal(8, Fs.Stat("/f").Blocks);
        Fs.Truncate("/f", long.MaxValue);
        Assert.Equal(long.MaxValue, Fs.Stat("/f").Size);
    }

    [Fact]
    public void ThroughASymlinkTruncatesTheTarget()
    {
        Fs.Truncate("/lf", 2);
        Assert.Equal(2, Fs.Stat("/f").Size);
    }

    [Fact]
    public void NegativeIsEINVAL() => Fails(Errno.EINVAL, () => Fs.Truncate("/f", -1));

    [Fact]
    public void DirectoryIsEISDIR() => Fails(Errno.EISDIR, () => Fs.Truncate("/d", 0));

    [Fact]
    public void FifoIsEINVAL()
    {
        Fs.Mknod("/fifo", FileModes.Fifo | 0x1A4 /* 0644 */);
        Fails(Errno.EINVAL, () => Fs.Truncate("/fifo", 0));
    }

    [Fact]
    public void MissingIsENOENT() => Fails(Errno.ENOENT, () => Fs.Truncate("/missing", 0));

    [Fact]
    public void FtruncateOfAReadOnlyHandleIsEINVAL()
    {
        using var h = Fs.Open("/f", OpenFlags.ReadOnly);
        Fails(Errno.EINVAL, () => h.Truncate(0));
    }

    [Fact]
    public void FtruncateOfADirectoryHandleIsEINVAL()
    {
        // kernel 6.18: a directory can only be opened read-only, so ftruncate is EINVAL.
        using var h = Fs.Open("/d", OpenFlags.ReadOnly);
        Fails(Errno.EINVAL, () => h.Truncate(0));
    }

    [Fact]
    public void NonOwnerWithoutWritePermissionIsEACCES() => Fails(Errno.EACCES, () => Fs.Truncate("/f", 0, Alice));

    [Fact]
    public void TheCutPageTailIsZeroedForALaterGrow()
    {
        using var h = Open("/f", OpenFlags.ReadWrite);
        h.Write(Bytes("ABCDEFGH"), 4090);
        h.Truncate(4092);
        h.Truncate(4098);
        var b = new byte[8];
        h.Read(b, 4090);
        Assert.Equal(new byte[] { (byte)'A', (byte)'B', 0, 0, 0, 0, 0, 0 }, b);
    }

    [Fact]
    public void TruncateToTheSameSizeStillUpdatesMtimeAndCtime()
    {
        // kernel 6.18: truncate(2) and ftruncate(2) to the same size change mtime and ctime.
        Clock.Advance();
        Fs.Truncate("/f", 5);
        var st = Fs.Stat("/f");
        Assert.Equal(Clock.Now, st.Mtime);
        Assert.Equal(Clock.Now, st.Ctime);
    }
}
