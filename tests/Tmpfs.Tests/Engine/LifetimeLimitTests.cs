namespace Tmpfs.Tests.Engine;

public class LifetimeLimitTests : EngineTest
{
    [Fact]
    public void UnlinkedFileLivesUntilTheLastHandleCloses()
    {
        var free = Memory.FreeBytes;
        var shmem = Memory.ShmemBytes;
        var inodes = Fs.UsedInodes;
        var a = Fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        a.Write(new byte[3 * 4096], 0);
        var b = Fs.Open("/f", OpenFlags.ReadOnly);
        Fs.Unlink("/f");
        Assert.Equal(free - (3 * 4096), Memory.FreeBytes);
        a.Dispose();
        Assert.Equal(3 * 4096, b.Read(new byte[3 * 4096], 0));
        Assert.Equal(inodes + 1, Fs.UsedInodes);
        b.Dispose();
        Assert.Equal(inodes, Fs.UsedInodes);
        Assert.Equal(free, Memory.FreeBytes);
        Assert.Equal(shmem, Memory.ShmemBytes);
        Assert.Equal(0, Fs.UsedBytes);
    }

    [Fact]
    public void SizeLimitGivesAShortWriteThenENOSPCAndKeepsWhatWasWritten()
    {
        // kernel 6.18 (size=1M): writing 2 MiB returns 1 MiB; the next write is ENOSPC.
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var data = new byte[2 << 20];
        new Random(2).NextBytes(data);
        Assert.Equal(1 << 20, h.Write(data, 0));
        Fails(Errno.ENOSPC, () => h.Write(data.AsSpan(0, 10), 1 << 20));
        var back = new byte[1 << 20];
        Assert.Equal(back.Length, h.Read(back, 0));
        Assert.Equal(data.AsSpan(0, 1 << 20).ToArray(), back);
        Assert.Equal(0, Fs.StatFs().BlocksFree);

        // Rewriting pages that exist needs no space.
        Assert.Equal(4096, h.Write(new byte[4096], 0));
    }

    [Fact]
    public void InodeLimitIsENOSPC()
    {
        using var memory = new MemoryManager(1 << 20);
        var fs = memory.Mount("nr_inodes=4");
        fs.Mkdir("/a", 0x1ED /* 0755 */);
        fs.Symlink("x", "/b");
        fs.Mknod("/c", FileModes.Fifo | 0x1A4 /* 0644 */);
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Open("/d", OpenFlags.Create | OpenFlags.WriteOnly)));
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Mkdir("/d", 0x1ED /* 0755 */)));
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Symlink("x", "/d")));
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Open("/", OpenFlags.TmpFile | OpenFlags.ReadWrite)));
        Assert.Equal(["a", "b", "c"], fs.ReadDirectory("/").Select(e => e.Name).Order(StringComparer.Ordinal));
        fs.Unlink("/c");
        fs.Mkdir("/d", 0x1ED /* 0755 */);
        fs.Unmount();
    }

    [Fact]
    public void AnExhaustedBudgetIsENOSPCAndLosesNothing()
    {
        using var memory = new MemoryManager(16 * 4096);
        var fs = memory.Mount("size=0");
        using (var h = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite))
        {
            var data = new byte[20 * 4096];
            Array.Fill(data, (byte)9);
            Assert.Equal(16 * 4096, h.Write(data, 0));
            Assert.Equal(0, memory.FreeBytes);
            Assert.Equal(Errno.ENOSPC, Err(() => h.Write(data.AsSpan(0, 1), 16 * 4096)));
            Assert.Equal(Errno.ENOSPC, Err(() => h.Fallocate(FallocateMode.Default, 16 * 4096, 4096)));
            Assert.Equal(16 * 4096, h.Stat().Size);
            var back = new byte[16 * 4096];
            h.Read(back, 0);
            Assert.All(back, x => Assert.Equal(9, x));
        }

        // Another mount on the same budget is out of pages too.
        var other = memory.Mount();
        using (var g = other.Open("/g", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            Assert.Equal(Errno.ENOSPC, Err(() => g.Write(new byte[1], 0)));
        }

        fs.Unlink("/f");
        Assert.Equal(16 * 4096, memory.FreeBytes);
        other.Unmount();
        fs.Unmount();
    }

    [Fact]
    public void HolesTakeNoPagesAndReadZeros()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var free = Memory.FreeBytes;
        h.Truncate(1L << 30);
        h.Write(Bytes("end"), (1L << 30) - 3);
        Assert.Equal(8, h.Stat().Blocks);
        Assert.Equal(free - 4096, Memory.FreeBytes);
        var buf = new byte[8192];
        Array.Fill(buf, (byte)1);
        Assert.Equal(8192, h.Read(buf, 12345678));
        Assert.All(buf, x => Assert.Equal(0, x));
    }

    [Fact]
    public void AFreedPageIsZeroedBeforeReuse()
    {
        var secret = new byte[4096];
        Array.Fill(secret, (byte)0x5A);
        using (var h = Fs.Open("/secret", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            h.Write(secret, 0);
        }

        Fs.Unlink("/secret");

        // The freed frame is the next one handed out: partial writes, fallocate and a grow must not show it.
        using var g = Open("/g", OpenFlags.Create | OpenFlags.ReadWrite);
        g.Write(Bytes("x"), 100);
        var page = new byte[4096];
        g.Truncate(4096);
        g.Read(page, 0);
        Assert.Equal(4095, page.Count(b => b == 0));

        using (var h = Fs.Open("/secret2", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            h.Write(secret, 0);
            h.Write(secret, 4096);
        }

        Fs.Unlink("/secret2");
        g.Fallocate(FallocateMode.Default, 4096, 8192);
        var two = new byte[8192];
        g.Read(two, 4096);
        Assert.All(two, b => Assert.Equal(0, b));
    }

    [Fact]
    public void FileSizeLimitIsEFBIG()
    {
        var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        Fails(Errno.EFBIG, () => h.Fallocate(FallocateMode.KeepSize, long.MaxValue - 4096, 8192));
    }
}
