using Tmpfs.Shmem;
using Xunit.Abstractions;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// Mounts coming and going on one budget while others work (the seed's loop, without
/// swap yet), and unmount racing the operations and the last close of its own mount.
/// </summary>
public sealed class MountStressTests(ITestOutputHelper output)
{
    [Fact]
    public void MountsComeAndGo_OnASmallBudget()
    {
        using var memory = new MemoryManager(4L << 20); // 1024 frames for 6 writers of up to 1.5 MiB and a churning mount
        var shared = memory.Mount("size=1m");
        Churn.CreateTopDirs(shared);
        const int writers = 6;
        const int churners = 2;
        var harness = new StressHarness(writers + churners);
        var enospc = 0;
        harness.Run(id =>
        {
            if (id >= writers)
            {
                using var churn = new Churn(shared, harness, id, seed: 4000 + id) { MaxOffset = 128 * 1024 };
                for (var i = 0; i < 3000; i++)
                {
                    churn.Step();
                }

                return;
            }

            var rng = new Random(5000 + id);
            var data = new byte[1536 * 1024];
            rng.NextBytes(data);
            for (var round = 0; round < 60; round++)
            {
                var options = rng.Next(3) switch
                {
                    0 => $"size={rng.Next(64, 2048)}k",
                    1 => "size=100%",
                    _ => "",
                };
                harness.Doing(id, $"mount -o {options}");
                var fs = memory.Mount(options);
                var length = rng.Next(1, data.Length);
                var written = 0;
                var handle = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
                harness.Doing(id, $"write {length} bytes, {options}");
                while (written < length)
                {
                    var chunk = Math.Min(length - written, rng.Next(1, 100_000));
                    try
                    {
                        var n = handle.Write(data.AsSpan(written, chunk), written);
                        written += n;
                        if (n < chunk)
                        {
                            Interlocked.Increment(ref enospc); // short write: space ran out
                            break;
                        }
                    }
                    catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
                    {
                        Interlocked.Increment(ref enospc);
                        break;
                    }
                }

                harness.Doing(id, $"read back {written} bytes");
                var back = new byte[written + 10];
                var got = handle.Read(back, 0);
                if (got != written || !back.AsSpan(0, got).SequenceEqual(data.AsSpan(0, written)))
                {
                    harness.Fail(id, $"round {round}: read {got} of {written} bytes, or they differ");
                }

                foreach (var p in Fsck.Check(fs.Superblock))
                {
                    harness.Fail(id, $"fsck of a private mount: {p}");
                }

                harness.Doing(id, "unmount");
                if (rng.Next(2) == 0)
                {
                    fs.Unmount(detach: true); // lazy: torn down at the close below
                    handle.Dispose();
                }
                else
                {
                    AssertErrno(Errno.EBUSY, () => fs.Unmount());
                    handle.Dispose();
                    fs.Unmount();
                }
            }
        });

        output.WriteLine($"{enospc} writes ran out of space");
        Assert.True(enospc > 0, "the budget should be small enough for some writes to hit ENOSPC");
        StressTests.AssertConsistent(memory, shared);
        StressTests.UnmountAndAssertFree(memory, shared);
    }

    /// <summary>
    /// Unmount while workers run path and handle operations on the mount: those that
    /// start after it get ENODEV, handles keep working, and the last close (lazy) or the
    /// unmount itself frees everything.
    /// </summary>
    [Fact]
    public void Unmount_RacesOperationsOnItsMount()
    {
        using var memory = new MemoryManager(16L << 20);
        const int workers = 4;
        for (var round = 0; round < 16; round++)
        {
            var fs = memory.Mount("size=2m,nr_inodes=200");
            Churn.CreateTopDirs(fs);
            var harness = new StressHarness(workers + 1);
            var steps = 0L;
            var unmounted = 0;
            var detach = round % 2 == 0;
            var r = round;
            harness.Run(id =>
            {
                if (id == workers)
                {
                    // The unmounter: after some work, until it succeeds (EBUSY while handles are open).
                    while (Interlocked.Read(ref steps) < 400)
                    {
                        Thread.Yield();
                    }

                    harness.Doing(id, $"unmount detach={detach}");
                    while (true)
                    {
                        try
                        {
                            fs.Unmount(detach);
                            break;
                        }
                        catch (TmpfsException e) when (e.Errno == Errno.EBUSY)
                        {
                            Thread.Yield();
                        }
                    }

                    Volatile.Write(ref unmounted, 1);
                    return;
                }

                using var churn = new Churn(fs, harness, id, seed: 6000 + (r * 10) + id) { AlsoAllowed = Errno.ENODEV };
                var after = 0;
                for (var i = 0; i < 20_000 && after < 300; i++)
                {
                    churn.Step();
                    Interlocked.Increment(ref steps);
                    if (Volatile.Read(ref unmounted) != 0)
                    {
                        after++;
                    }
                    else if (!detach && i % 8 == 0)
                    {
                        churn.Dispose(); // let a plain unmount find no handle open now and then
                    }
                }
            });

            Assert.True(fs.IsUnmounted);
            Assert.Equal(0, fs.OpenHandles);
            Assert.Empty(memory.Superblocks);
            Assert.Equal(memory.TotalBytes, memory.FreeBytes);
            Assert.Equal(0, memory.ShmemBytes);
        }
    }

    /// <summary>A lazy unmount and the last close of its mount, at the same moment: exactly one tears it down.</summary>
    [Fact]
    public void LazyUnmount_RacesTheLastClose()
    {
        using var memory = new MemoryManager(8L << 20);
        const int rounds = 5000;
        FileSystem? fs = null;
        FileHandle? handle = null;
        using var barrier = new Barrier(2, _ => { });
        var harness = new StressHarness(2);
        harness.Run(id =>
        {
            for (var round = 0; round < rounds; round++)
            {
                if (id == 0)
                {
                    harness.Doing(id, $"round {round}: mount and write");
                    fs = memory.Mount("size=1m");
                    handle = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
                    handle.Write(new byte[5000], 0);
                }

                barrier.SignalAndWait();
                if (id == 0)
                {
                    harness.Doing(id, $"round {round}: close");
                    handle!.Dispose();
                }
                else
                {
                    harness.Doing(id, $"round {round}: umount -l");
                    fs!.Unmount(detach: true);
                }

                barrier.SignalAndWait();
                if (id == 0 && (memory.FreeBytes != memory.TotalBytes || memory.Superblocks.Count != 0))
                {
                    harness.Fail(id, $"round {round}: after umount -l and the last close, {memory.TotalBytes - memory.FreeBytes} bytes are in use and {memory.Superblocks.Count} superblock(s) not torn down");
                    barrier.RemoveParticipant();
                    return;
                }

                barrier.SignalAndWait();
                if (harness.FailureCount > 0)
                {
                    return;
                }
            }
        });
    }

    private static void AssertErrno(Errno expected, Action action)
    {
        var e = Assert.Throws<TmpfsException>(action);
        Assert.Equal(expected, e.Errno);
    }
}
