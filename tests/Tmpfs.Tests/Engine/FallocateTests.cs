namespace Tmpfs.Tests.Engine;

public class FallocateTests : EngineTest
{
    private const FallocateMode CollapseRange = (FallocateMode)0x8;
    private const FallocateMode ZeroRange = (FallocateMode)0x10;
    private const FallocateMode Unknown = (FallocateMode)0x100;

    private readonly FileHandle h;

    public FallocateTests()
    {
        h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
    }

    [Fact]
    public void AllocatesZeroedPagesAndGrowsTheSize()
    {
        h.Fallocate(FallocateMode.Default, 0, 4096);
        var st = h.Stat();
        Assert.Equal(4096, st.Size);
        Assert.Equal(8, st.Blocks);
        var b = new byte[10];
        Assert.Equal(10, h.Read(b, 0));
        Assert.All(b, x => Assert.Equal(0, x));
    }

    [Fact]
    public void KeepSizeAllocatesPastTheEndWithoutGrowing()
    {
        h.Fallocate(FallocateMode.Default, 0, 4096);
        h.Fallocate(FallocateMode.KeepSize, 8192, 4096);
        Assert.Equal(4096, h.Stat().Size);
        Assert.Equal(16, h.Stat().Blocks);
    }

    [Fact]
    public void PunchHoleFreesWholePagesAndZeroesPartialOnes()
    {
        var data = new byte[3 * 4096];
        Array.Fill(data, (byte)7);
        h.Write(data, 0);
        h.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, 100, 4096 + 4096 - 100 + 10);
        Assert.Equal(3 * 4096, h.Stat().Size);
        Assert.Equal(16, h.Stat().Blocks); // page 1 freed, pages 0 and 2 partially zeroed
        var back = new byte[data.Length];
        h.Read(back, 0);
        Assert.All(back.AsSpan(0, 100).ToArray(), x => Assert.Equal(7, x));
        Assert.All(back.AsSpan(100, 8192 - 100 + 10).ToArray(), x => Assert.Equal(0, x));
        Assert.All(back.AsSpan(8192 + 10).ToArray(), x => Assert.Equal(7, x));
    }

    [Fact]
    public void PunchHoleInsideOnePage()
    {
        h.Write(Bytes("abcdef"), 0);
        h.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, 1, 2);
        var b = new byte[6];
        h.Read(b, 0);
        Assert.Equal(new byte[] { (byte)'a', 0, 0, (byte)'d', (byte)'e', (byte)'f' }, b);
    }

    [Theory]
    [InlineData(FallocateMode.Default, 0, 0)]
    [InlineData(FallocateMode.Default, -1, 10)]
    [InlineData(FallocateMode.Default, 0, -1)]
    [InlineData(CollapseRange, -1, 10)] // kernel 6.18: offset/len are checked before the mode
    [InlineData(Unknown, 0, 0)]
    public void BadRangeIsEINVAL(FallocateMode mode, long offset, long length) =>
        Fails(Errno.EINVAL, () => h.Fallocate(mode, offset, length));

    [Theory]
    [InlineData(CollapseRange)]
    [InlineData(ZeroRange)]
    [InlineData(FallocateMode.PunchHole)]
    [InlineData(ZeroRange | FallocateMode.KeepSize)]
    [InlineData(ZeroRange | FallocateMode.PunchHole)]
    [InlineData(Unknown)]
    public void UnsupportedModeIsEOPNOTSUPP(FallocateMode mode) =>
        Fails(Errno.EOPNOTSUPP, () => h.Fallocate(mode, 0, 4096));

    [Fact]
    public void ReadOnlyHandleIsEBADFButBadModeBitsComeFirst()
    {
        // kernel 6.18: vfs_fallocate rejects unknown bits and PUNCH_HOLE without KEEP_SIZE
        // before checking FMODE_WRITE; COLLAPSE_RANGE is refused only later, by shmem.
        using var ro = Fs.Open("/f", OpenFlags.ReadOnly);
        Fails(Errno.EBADF, () => ro.Fallocate(FallocateMode.Default, 0, 4096));
        Fails(Errno.EBADF, () => ro.Fallocate(CollapseRange, 0, 4096));
        Fails(Errno.EOPNOTSUPP, () => ro.Fallocate(FallocateMode.PunchHole, 0, 4096));
        Fails(Errno.EOPNOTSUPP, () => ro.Fallocate(Unknown, 0, 4096));
    }

    [Fact]
    public void OverflowIsEFBIG()
    {
        // kernel 6.18: EFBIG for offset + len past LLONG_MAX, also for a mode shmem would refuse.
        Fails(Errno.EFBIG, () => h.Fallocate(FallocateMode.Default, long.MaxValue - 10, 100));
        Fails(Errno.EFBIG, () => h.Fallocate(FallocateMode.KeepSize, long.MaxValue - 10, 100));
        Fails(Errno.EFBIG, () => h.Fallocate(CollapseRange, long.MaxValue - 10, 100));
        Fails(Errno.EOPNOTSUPP, () => h.Fallocate(FallocateMode.PunchHole, long.MaxValue - 10, 100));
    }

    [Fact]
    public void FifoIsESPIPE()
    {
        Fs.Mknod("/fifo", FileModes.Fifo | 0x1A4 /* 0644 */);
        using var f = Fs.Open("/fifo", OpenFlags.ReadWrite);
        Fails(Errno.ESPIPE, () => f.Fallocate(FallocateMode.Default, 0, 4096));
        Fails(Errno.ESPIPE, () => f.Fallocate(CollapseRange, 0, 4096));
    }

    [Fact]
    public void DeviceIsENODEV()
    {
        Fs.Mknod("/null", FileModes.CharDevice | 0x1B6 /* 0666 */, rdev: 0x103);
        using var f = Fs.Open("/null", OpenFlags.ReadWrite);
        Fails(Errno.ENODEV, () => f.Fallocate(FallocateMode.Default, 0, 4096));
    }

    [Fact]
    public void MoreThanTheMountHoldsIsENOSPCAndAllocatesNothing()
    {
        // kernel 6.18 on size=1M: fallocate(0, 2M) = ENOSPC, st_size 0, st_blocks 0.
        Fails(Errno.ENOSPC, () => h.Fallocate(FallocateMode.Default, 0, 2 << 20));
    }

    [Fact]
    public void RunningOutPartWayUndoesOnlyThePagesItAdded()
    {
        h.Write(Bytes("keep"), 4096);
        using (var g = Fs.Open("/g", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            g.Write(new byte[200 * 4096], 0); // 200 of the 256 pages of size=1M
        }

        // 56 pages are left: one is already h's, so 60 pages from 0 cannot all be allocated.
        Fails(Errno.ENOSPC, () => h.Fallocate(FallocateMode.Default, 0, 60 * 4096));
        Assert.Equal(8, h.Stat().Blocks);
        Assert.Equal(4100, h.Stat().Size);
        var b = new byte[4];
        h.Read(b, 4096);
        Assert.Equal("keep", System.Text.Encoding.ASCII.GetString(b));
    }

    [Fact]
    public void UpdatesMtimeAndCtime()
    {
        Clock.Advance();
        h.Fallocate(FallocateMode.KeepSize, 0, 100);
        Assert.Equal(Clock.Now, h.Stat().Mtime);
        Assert.Equal(Clock.Now, h.Stat().Ctime);
    }
}
