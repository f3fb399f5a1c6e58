using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Tmpfs.Memory;

namespace Tmpfs.Benchmarks;

/// <summary>
/// The measurements behind the engine's choice of page copy (PageCopy, PageCache): 4 KiB
/// copied between a caller's buffer (a byte[], so 16 bytes off a cache line, as callers'
/// buffers are) and pages of an 80 MiB block (20,000 pages, more than the last-level cache),
/// visited in page order, in reverse order, at random, or as 16 pages over and over (cached).
/// Reads compare the engine's vector loop with libc's memmove (Span.CopyTo, which uses
/// <c>rep movsb</c> at this size); writes add the engine's non-temporal stores (with the fence
/// a writer pays before publishing). Prints the median of 15 passes, in ns per page.
/// </summary>
internal static unsafe class CopyStrategies
{
    private const int Pages = 20_000;
    private const int PageSize = 4096;

    public static int Run()
    {
        var block = (byte*)NativeMemory.AlignedAlloc((nuint)Pages * PageSize, PageSize);
        try
        {
            new Span<byte>(block, Pages * PageSize).Fill(1); // faulted in
            var buffer = new byte[PageSize];
            new Random(1).NextBytes(buffer);
            var forward = Enumerable.Range(0, Pages).ToArray();
            var reverse = forward.Reverse().ToArray();
            var shuffle = new Random(42);
            var random = forward.OrderBy(_ => shuffle.Next()).ToArray();
            var cached = forward.Select(i => i & 15).ToArray();
            var orders = new (string Name, int[] Pages)[] { ("page order", forward), ("reverse order", reverse), ("random", random), ("cached", cached) };

            Console.WriteLine("| Copy | Order | ns per 4 KiB |");
            Console.WriteLine("|---|---|---:|");
            foreach (var (order, pages) in orders)
            {
                Row("read: vector loop", order, () =>
                {
                    foreach (var p in pages)
                    {
                        PageCopy.CopyOut(block + ((long)p * PageSize), buffer, sequential: false);
                    }
                });
                Row("read: memmove", order, () =>
                {
                    foreach (var p in pages)
                    {
                        PageCopy.CopyOut(block + ((long)p * PageSize), buffer, sequential: true);
                    }
                });
            }

            foreach (var (order, pages) in orders)
            {
                Row("write: vector loop", order, () =>
                {
                    foreach (var p in pages)
                    {
                        PageCopy.CopyIn(buffer, block + ((long)p * PageSize), FrameStore.Cached);
                    }
                });
                Row("write: non-temporal + fence", order, () =>
                {
                    foreach (var p in pages)
                    {
                        PageCopy.CopyIn(buffer, block + ((long)p * PageSize), FrameStore.NonTemporal);
                        PageCopy.Fence();
                    }
                });
                Row("write: memmove", order, () =>
                {
                    foreach (var p in pages)
                    {
                        PageCopy.CopyIn(buffer, block + ((long)p * PageSize), FrameStore.Fresh);
                    }
                });
            }

            return 0;
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    private static void Row(string copy, string order, Action pass)
    {
        var times = new List<double>();
        for (var i = 0; i < 16; i++)
        {
            var clock = Stopwatch.StartNew();
            pass();
            if (i > 0)
            {
                times.Add(clock.Elapsed.TotalNanoseconds / Pages);
            }
        }

        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {copy} | {order} | {times[times.Count / 2]:F0} |"));
    }
}
