using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// The seed's script through FUSE, at a CI-friendly scale: parallel loops of mount (a
/// FuseMount of one shared, small MemoryManager with a swap file), `dd` of a random number
/// of MiB in a child process, and `umount` (umount(8)). Afterwards no frame or swap slot is
/// leaked, no invariant was violated, every server ended with 0, and swapping happened.
/// </summary>
public sealed class SeedScriptTests(ITestOutputHelper output)
{
    private const int Loops = 8;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(12);

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ParallelMountDdUmountLoopsLeakNothing(bool ioUring)
    {
        MountedTmpfs.SkipUnlessCanMount();
        if (ioUring)
        {
            MountedTmpfs.SkipUnlessIoUring();
        }

        var work = Directory.CreateTempSubdirectory("tmpfs-seed-").FullName;
        var swap = Path.Combine(work, "swapfile");
        var failures = new ConcurrentQueue<string>();
        var cycles = 0;
        var ddFailures = 0;
        using var memory = new MemoryManager(32L << 20);
        memory.Swapon(swap, 96L << 20);
        try
        {
            var stop = Stopwatch.StartNew();
            var threads = Enumerable.Range(0, Loops).Select(i => new Thread(() =>
            {
                var random = new Random(i);
                var mp = Path.Combine(work, "mp" + i.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(mp);
                try
                {
                    while (stop.Elapsed < Duration && failures.IsEmpty)
                    {
                        Cycle(memory, mp, random.Next(24), ioUring, failures, ref ddFailures);
                        Interlocked.Increment(ref cycles);
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue($"loop {i}: {e}");
                }
            })
            { IsBackground = true }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.True(failures.IsEmpty, string.Join("\n", failures));
            var info = memory.MemInfo;
            output.WriteLine($"{cycles} cycles, {ddFailures} dd ENOSPC, pswpout {info.PswpOut}, pswpin {info.PswpIn}, pgsteal {info.PgSteal}");
            Assert.True(cycles >= Loops, $"only {cycles} cycles");
            Assert.Equal(memory.TotalBytes, memory.FreeBytes);
            Assert.Equal(info.SwapTotal, info.SwapFree);
            Assert.Equal(0, info.InvariantViolations);
            Assert.True(info.PswpOut > 0, $"no swapping in {cycles} cycles (pswpout 0)");
            Assert.Empty(memory.CheckConsistency());
        }
        finally
        {
            for (var i = 0; i < Loops; i++)
            {
                var mp = Path.Combine(work, "mp" + i.ToString(CultureInfo.InvariantCulture));
                if (MountedTmpfs.IsMounted(mp))
                {
                    MountedTmpfs.Run("umount", ["-l", mp]);
                }
            }

            try
            {
                memory.Swapoff(swap);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static void Cycle(MemoryManager memory, string mp, int mib, bool ioUring, ConcurrentQueue<string> failures, ref int ddFailures)
    {
        var log = new StringWriter();
        var fs = memory.Mount("size=32m");
        var options = new FuseMountOptions { Threads = 2, IoUring = ioUring ? FuseIoUring.On : FuseIoUring.Off, Log = TextWriter.Synchronized(log) };
        using var mount = FuseMount.Mount(fs, mp, options);
        var dd = MountedTmpfs.Run("dd", ["if=/dev/zero", $"of={mp}/test", "bs=1M", $"count={mib}", "status=none"]);
        if (dd.Exit != 0)
        {
            // With eight loops on a 32 MiB budget and 96 MiB of swap, a write may find no
            // room at all: ENOSPC is the right answer then, and anything else is a failure.
            Interlocked.Increment(ref ddFailures);
            if (!dd.Err.Contains("No space left", StringComparison.Ordinal))
            {
                failures.Enqueue($"dd of {mib} MiB on {mp}: {dd.Err}");
            }
        }

        if (ioUring && (!mount.UsesIoUring || mount.RingRequests == 0))
        {
            // dd's requests came after INIT, so through the rings.
            failures.Enqueue($"{mp}: io_uring was not negotiated or served nothing\n{log}");
        }

        var umount = MountedTmpfs.Run("umount", [mp]);
        if (umount.Exit != 0)
        {
            failures.Enqueue($"umount {mp}: {umount.Err}");
            return;
        }

        if (!mount.Wait(TimeSpan.FromSeconds(30), out var code))
        {
            failures.Enqueue($"{mp}: the server did not end after umount");
        }
        else if (code != 0 || mount.ProtocolErrors != 0)
        {
            failures.Enqueue($"{mp}: Wait() = {code}, protocol errors {mount.ProtocolErrors}: {mount.UnmountError}\n{log}");
        }
    }
}
