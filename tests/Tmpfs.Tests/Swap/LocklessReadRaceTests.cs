using Tmpfs.Shmem;

namespace Tmpfs.Tests.Swap;

/// <summary>
/// Reads look pages up without the mapping lock (PageCache.FindGetReadRun: try-get, then
/// reload), racing reclaim that moves the same pages to swap and frees them, and writers
/// whose fresh frames are frames just freed. A read through a stale entry that kept a frame
/// reused by another file would show that file's data. The first test makes that race
/// happen, step by step, on one thread; the second is a soak of the same parts at random
/// (three readers paused at random at the engine's scheduling points, reclaim, churn), every
/// page checked against its own stamp.
/// </summary>
public sealed class LocklessReadRaceTests
{
    private const int Page = 4096;
    private const int Files = 6;
    private const int PagesPerFile = 128; // 3 MiB in all against a 2 MiB budget

    [Fact]
    public void ReadersRacingReclaimAndReusedFrames_AlwaysSeeTheirOwnPages()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(2L << 20);
        memory.Swapon(dir.File("swap0"), 64L << 20);
        var fs = memory.Mount("size=32M");
        var page = new byte[Page];
        for (var f = 0; f < Files; f++)
        {
            using var h = fs.Open($"/f{f}", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4);
            for (var p = 0; p < PagesPerFile; p++)
            {
                Stamp(page, f, p, 0);
                h.Write(page, (long)p * Page);
            }
        }

        Assert.True(memory.MemInfo.PswpOut > 0, "3 MiB written into a 2 MiB budget swapped nothing out");
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var start = DateTime.UtcNow;
        long reads = 0;

        // 3 s, or longer on a loaded machine until the readers have gone round the data twice
        // (each page both resident and on swap at some read), but never past 30 s.
        bool Running() => failures.IsEmpty && DateTime.UtcNow - start < TimeSpan.FromSeconds(30) &&
            (DateTime.UtcNow - start < TimeSpan.FromSeconds(3) || Interlocked.Read(ref reads) < 2L * Files * PagesPerFile);

        // Readers: runs of 1-8 pages, in file order round and round (each page read again when
        // it is among the oldest, the ones reclaim takes next), each checked page by page.
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(() =>
        {
            var rng = new Random(r);
            Interleaving.Current = Jitter(r);
            var buffer = new byte[8 * Page];
            var at = r * PagesPerFile * 2;
            while (Running())
            {
                var count = rng.Next(1, 9);
                var f = at / PagesPerFile % Files;
                var p = Math.Min(at % PagesPerFile, PagesPerFile - count);
                at += count;
                using var h = fs.Open($"/f{f}", OpenFlags.ReadOnly);
                var n = h.Read(buffer.AsSpan(0, count * Page), (long)p * Page);
                if (n != count * Page)
                {
                    failures.Enqueue($"short read {n} of /f{f} at page {p}");
                    return;
                }

                for (var i = 0; i < count; i++)
                {
                    if (Check(buffer.AsSpan(i * Page, Page), f, p + i) is { } problem)
                    {
                        failures.Enqueue(problem);
                        return;
                    }
                }

                Interlocked.Increment(ref reads);
            }

            Interleaving.Current = null;
        })).ToArray();

        // Churn: files created, filled and deleted, so freed frames are reused at once as fresh
        // frames of other files (the frames a reader's stale entry may name).
        var churn = Task.Run(() =>
        {
            var buffer = new byte[32 * Page];
            var i = 0;
            while (Running())
            {
                var path = $"/churn{i++ % 4}";
                Array.Fill(buffer, (byte)0xEE);
                using (var h = fs.Open(path, OpenFlags.Create | OpenFlags.Truncate | OpenFlags.WriteOnly, 0x1A4))
                {
                    h.Write(buffer, 0);
                }

                fs.Unlink(path);
            }
        });

        Task.WaitAll([.. readers, churn]);
        Assert.True(failures.IsEmpty, string.Join("\n", failures));
        var info = memory.MemInfo;
        Assert.True(info.PswpIn > 0, $"nothing was read back from swap in {reads} reads");
        Assert.Empty(Fsck.Check(fs.Superblock));
        fs.Unmount();
    }

    /// <summary>
    /// The race made to happen: a reader has looked up a resident page (its frame X) and not
    /// yet taken it when reclaim moves the page to swap and frees X, and another file's write
    /// takes X as a fresh frame. The reader's try-get on X then succeeds (X is in use again),
    /// and only the reload can tell that the entry no longer names it: the read must go to
    /// swap and return the page's own data, not the other file's.
    /// </summary>
    [Fact]
    public void AFrameFreedAndReusedBetweenLookupAndTryGet_IsNotRead()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(4L << 20);
        memory.Swapon(dir.File("swap0"), 16L << 20);
        var fs = memory.Mount("size=8M");
        var page = new byte[Page];
        Stamp(page, 1, 0, 0);
        using (var h = fs.Open("/a", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4))
        {
            h.Write(page, 0);
        }

        using var other = fs.Open("/b", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4);
        var a = PathWalk.Lookup(fs.Superblock, "/a", Credentials.Root, followFinal: true);
        var b = PathWalk.Lookup(fs.Superblock, "/b", Credentials.Root, followFinal: true);
        var frameOfA = PageCacheTree.ToFrame(a.Pages.Get(0));
        var stolen = new byte[Page];
        Stamp(stolen, 2, 0, 0);
        // At the first scheduling point only (reclaim's own points come back here): reclaim,
        // which takes no inode lock, runs while this thread holds /a's, then /b takes a frame.
        var stolenAt = 0;
        var steal = new PointHook(() =>
        {
            if (stolenAt++ == 0)
            {
                memory.Reclaim.Shrink(64);
                other.Write(stolen, 0);
            }
        });

        var buffer = new byte[Page];
        using (var h = fs.Open("/a", OpenFlags.ReadOnly))
        {
            Interleaving.Current = steal;
            try
            {
                Assert.Equal(Page, h.Read(buffer, 0));
            }
            finally
            {
                Interleaving.Current = null;
            }
        }

        Assert.True(stolenAt > 0, "the read never reached a scheduling point");
        Assert.True(PageCacheTree.IsFrame(b.Pages.Get(0)) && PageCacheTree.ToFrame(b.Pages.Get(0)) == frameOfA, "the race was not set up: /b did not get /a's old frame");
        Assert.Null(Check(buffer, 1, 0));
        Assert.True(memory.MemInfo.PswpIn > 0, "the read did not come from swap");
        Assert.Empty(Fsck.Check(fs.Superblock));
    }

    /// <summary>
    /// A scheduler for threads the test runs for real: <paramref name="point"/> at each of the
    /// engine's scheduling points, and plain spinning where the engine would block.
    /// </summary>
    private sealed class PointHook(Action point) : IInterleaver
    {
        public void Point() => point();

        public void WaitUntil(Func<bool> ready) => SpinWait.SpinUntil(ready);

        public void Spin() => Thread.Yield();
    }

    /// <summary>Pauses at one scheduling point in three: a yield, or a spin of up to 20,000 iterations.</summary>
    private static PointHook Jitter(int seed)
    {
        var rng = new Random(seed);
        return new PointHook(() =>
        {
            switch (rng.Next(6))
            {
                case 0:
                    Thread.Yield();
                    break;
                case 1:
                    Thread.SpinWait(rng.Next(20_000));
                    break;
            }
        });
    }

    private static void Stamp(Span<byte> page, int file, int index, int version)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(page);
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = (file << 24) ^ (index << 8) ^ version ^ (i * 7919);
        }
    }

    private static string? Check(ReadOnlySpan<byte> page, int file, int index)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(page);
        for (var i = 0; i < words.Length; i++)
        {
            var want = (file << 24) ^ (index << 8) ^ (i * 7919);
            if (words[i] != want)
            {
                return $"/f{file} page {index} word {i}: {words[i]:x8}, want {want:x8}";
            }
        }

        return null;
    }
}
