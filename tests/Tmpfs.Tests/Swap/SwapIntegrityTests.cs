using System.IO.Hashing;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Swap;

/// <summary>Data under memory pressure: everything written comes back, through swap-out, swap-in and swapoff.</summary>
public sealed class SwapIntegrityTests
{
    private const int Page = 4096;

    [Fact]
    public void DataSetFourTimesTheBudget_ReadsBackExactly_ThenSwapoffBringsItHome()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(2L << 20); // 2 MiB of RAM
        memory.Swapon(dir.File("swap0"), 32L << 20);
        var fs = memory.Mount("size=16M");
        const int files = 4;
        const int perFile = 2 << 20; // 8 MiB in all: four times the budget
        var rng = new Random(42);
        var expected = new ulong[files];
        var data = new byte[perFile];
        for (var f = 0; f < files; f++)
        {
            rng.NextBytes(data);
            expected[f] = XxHash3.HashToUInt64(data);
            using var h = fs.Open($"/f{f}", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4);
            for (var off = 0; off < perFile; off += 64 * 1024)
            {
                Assert.Equal(64 * 1024, h.Write(data.AsSpan(off, 64 * 1024), off));
            }
        }

        var info = memory.MemInfo;
        Assert.True(info.PswpOut > 0, "nothing was swapped out");
        Assert.True(info.SwapTotal - info.SwapFree > 0, "no swap in use");

        // Random reads and overwrites all over the data set, checked against a model.
        var model = new byte[files][];
        for (var f = 0; f < files; f++)
        {
            model[f] = ReadAll(fs, $"/f{f}", perFile);
            Assert.Equal(expected[f], XxHash3.HashToUInt64(model[f]));
        }

        for (var i = 0; i < 400; i++)
        {
            var f = rng.Next(files);
            var off = rng.Next(perFile - Page);
            var len = rng.Next(1, Page);
            using var h = fs.Open($"/f{f}", OpenFlags.ReadWrite);
            if (rng.Next(2) == 0)
            {
                var patch = new byte[len];
                rng.NextBytes(patch);
                h.Write(patch, off);
                patch.CopyTo(model[f], off);
            }
            else
            {
                var buf = new byte[len];
                Assert.Equal(len, h.Read(buf, off));
                Assert.True(buf.AsSpan().SequenceEqual(model[f].AsSpan(off, len)), $"f{f}@{off}+{len} differs");
            }
        }

        Assert.True(memory.MemInfo.PswpIn > 0, "nothing was swapped in");
        Assert.Empty(Fsck.Check(fs.Superblock));

        // swapoff needs room for everything: grow nothing, so it must fail with ENOMEM and keep the device.
        var e = Assert.Throws<TmpfsException>(() => memory.Swapoff(dir.File("swap0")));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.Single(memory.SwapDevices);
        for (var f = 0; f < files; f++)
        {
            Assert.True(ReadAll(fs, $"/f{f}", perFile).AsSpan().SequenceEqual(model[f]), $"f{f} changed after a failed swapoff");
        }

        // Free most of it; then swapoff brings the rest back.
        for (var f = 1; f < files; f++)
        {
            fs.Unlink($"/f{f}");
        }

        using (var h = fs.Open("/f0", OpenFlags.ReadWrite))
        {
            h.Truncate(1 << 20);
        }

        memory.Swapoff(dir.File("swap0"));
        Assert.Empty(memory.SwapDevices);
        Assert.False(File.Exists(dir.File("swap0")), "swapoff did not remove the swap file it created");
        Assert.True(ReadAll(fs, "/f0", 1 << 20).AsSpan().SequenceEqual(model[0].AsSpan(0, 1 << 20)));
        fs.Unmount();
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
        Assert.Equal(0, memory.MemInfo.SwapCached);
        Assert.Equal(0, memory.MemInfo.InvariantViolations);
    }

    [Fact]
    public void WithoutSwap_AFullBudgetIsEnospc_AndNothingWrittenIsLost()
    {
        using var memory = new MemoryManager(1L << 20);
        var fs = memory.Mount("size=0");
        var data = new byte[Page];
        new Random(1).NextBytes(data);
        using var h = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        long off = 0;
        while (true)
        {
            try
            {
                h.Write(data, off);
            }
            catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
            {
                break;
            }

            off += Page;
        }

        Assert.Equal(memory.TotalBytes, off);
        var buf = new byte[Page];
        for (long o = 0; o < off; o += Page)
        {
            h.Read(buf, o);
            Assert.True(buf.AsSpan().SequenceEqual(data));
        }
    }

    /// <summary>
    /// RAM and swap both full: a write that needs a page is ENOSPC, a read of a swapped-out
    /// page has no frame to swap into and is ENOMEM (shmem_swapin_folio's error); neither
    /// changes anything, and once space is freed every byte reads back.
    /// </summary>
    [Fact]
    public void RamAndSwapFull_SwapInIsEnomem_AndNothingIsLost()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(64 * Page);
        memory.Swapon(dir.File("swap"), 64 * Page);
        var fs = memory.Mount("size=0");
        var data = new byte[Page];
        long off = 0;
        using (var h = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4))
        {
            while (true)
            {
                data.AsSpan().Fill((byte)(off / Page));
                try
                {
                    h.Write(data, off);
                }
                catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
                {
                    break;
                }

                off += Page;
            }

            Assert.True(memory.MemInfo.SwapFree < Page, $"swap not full: {memory.MemInfo}");
            var buf = new byte[Page];
            var refused = Assert.Throws<TmpfsException>(() => h.Read(buf, 0)); // page 0 went to swap first
            Assert.Equal(Errno.ENOMEM, refused.Errno);

            // Free the last quarter of the file; then all that is left reads back.
            var keep = off - (off / 4 / Page * Page);
            h.Truncate(keep);
            for (long o = 0; o < keep; o += Page)
            {
                Assert.Equal(Page, h.Read(buf, o));
                Assert.True(buf.AsSpan().IndexOfAnyExcept((byte)(o / Page)) < 0, $"page {o / Page} changed");
            }
        }

        fs.Unmount();
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
        Assert.Equal(memory.MemInfo.SwapTotal, memory.MemInfo.SwapFree);
    }

    [Fact]
    public void UnmountWhileSwapped_FreesSlotsAndLeavesNoInodeOnTheSwaplist()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(1L << 20);
        memory.Swapon(dir.File("swap"), 16L << 20);
        for (var round = 0; round < 5; round++)
        {
            var fs = memory.Mount("size=8M");
            var data = new byte[3 << 20];
            new Random(round).NextBytes(data);
            using (var h = fs.Open("/x", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4))
            {
                h.Write(data, 0);
            }

            Assert.True(memory.MemInfo.SwapFree < memory.MemInfo.SwapTotal);
            Assert.True(ReadAll(fs, "/x", data.Length).AsSpan().SequenceEqual(data));
            fs.Unmount();
            Assert.Equal(memory.MemInfo.SwapTotal, memory.MemInfo.SwapFree);
            Assert.Empty(memory.Swaplist.Snapshot());
        }

        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
        Assert.Equal(0, memory.MemInfo.InvariantViolations);
    }

    internal static byte[] ReadAll(FileSystem fs, string path, int length)
    {
        var buf = new byte[length];
        using var h = fs.Open(path, OpenFlags.ReadOnly);
        var done = 0;
        while (done < length)
        {
            var n = h.Read(buf.AsSpan(done), done);
            Assert.True(n > 0, "short file");
            done += n;
        }

        return buf;
    }
}
