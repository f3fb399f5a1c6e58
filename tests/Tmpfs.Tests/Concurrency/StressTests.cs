using Tmpfs.Shmem;
using Xunit.Abstractions;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// Many threads on one mount, then the consistency checker, then unmount: the budget
/// must be whole again. Operation counts are bounded, never time; the seeds are fixed.
/// </summary>
public sealed class StressTests(ITestOutputHelper output)
{
    private const int Threads = 12;

    [Fact]
    public void SharedNamespaceChurn_StaysConsistent()
    {
        using var memory = new MemoryManager(64L << 20);
        var fs = memory.Mount("size=16m,nr_inodes=4k");
        Churn.CreateTopDirs(fs);
        var harness = new StressHarness(Threads);
        using var stop = new CancellationTokenSource();

        // A checker runs beside the workers: the checker's locks make the mount quiescent.
        var checks = 0;
        var checker = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var p in Fsck.Check(fs.Superblock))
                {
                    // A close that races with the check has dropped its count but waits
                    // for the inode lock to evict: the only state in transit.
                    if (!p.Contains("unlinked and not open, yet not evicted", StringComparison.Ordinal))
                    {
                        harness.Fail(0, $"fsck during the run: {p}");
                    }
                }

                checks++;
                Thread.Sleep(20);
            }
        })
        { IsBackground = true };
        checker.Start();

        harness.Run(id =>
        {
            using var churn = new Churn(fs, harness, id, seed: 1000 + id);
            for (var i = 0; i < 15_000; i++)
            {
                churn.Step();
            }
        });
        stop.Cancel();
        Assert.True(checker.Join(StressHarness.Watchdog), "the concurrent checker is stuck");
        output.WriteLine($"{checks} concurrent checks; {fs.UsedInodes} inodes, {fs.UsedBytes} bytes at the end");
        harness.ThrowIfFailed();

        AssertConsistent(memory, fs);
        UnmountAndAssertFree(memory, fs);
    }

    [Fact]
    public void OwnedFiles_KeepTheirData_WhileOthersChurn() => OwnedFilesRun("size=32m", seed: 2000, ownedSteps: 1500);

    [Fact]
    public void OwnedFiles_KeepTheirData_WhenSpaceRunsOut() => OwnedFilesRun("size=192k", seed: 3000, ownedSteps: 1500);

    [Fact]
    public void Fsck_FindsPlantedDamage()
    {
        using var memory = new MemoryManager(8L << 20);
        var fs = memory.Mount("size=1m,nr_inodes=100");
        fs.Mkdir("/a", 0x1ED /* 0755 */);
        using (var h = fs.Open("/a/f", OpenFlags.Create | OpenFlags.ReadWrite))
        {
            h.Write(new byte[10_000], 3000);
        }

        fs.Link("/a/f", "/g");
        fs.Symlink(new string('t', 300), "/long");
        fs.SetXattr("/a", "user.x", "v"u8);
        var open = fs.Open("/a/f", OpenFlags.ReadOnly);
        fs.Unlink("/a/f");
        fs.Unlink("/g");
        Assert.Empty(Fsck.Check(fs.Superblock));
        Assert.Empty(Fsck.CheckMemory(memory));

        var dir = fs.Superblock.Root.Dir!.Lookup("a")!;
        dir.Nlink++;
        dir.Size += 20;
        open.Inode.Alloced++;
        var problems = Fsck.Check(fs.Superblock);
        Assert.Contains(problems, p => p.Contains("nlink 3 != 2 + 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("size 60 != 40", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("alloced 5 != 4 pages", StringComparison.Ordinal));
        dir.Nlink--;
        dir.Size -= 20;
        open.Inode.Alloced--;

        open.Dispose();
        Assert.Empty(Fsck.CheckMemory(memory));
        UnmountAndAssertFree(memory, fs);
    }

    internal static void AssertConsistent(MemoryManager memory, FileSystem fs)
    {
        var problems = Fsck.Check(fs.Superblock);
        problems.AddRange(Fsck.CheckMemory(memory));
        Assert.True(problems.Count == 0, "fsck:\n" + string.Join("\n", problems.Take(40)));
    }

    internal static void UnmountAndAssertFree(MemoryManager memory, FileSystem fs)
    {
        fs.Unmount();
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
        Assert.Equal(0, memory.ShmemBytes);
        Assert.Empty(memory.Superblocks);
    }

    private void OwnedFilesRun(string options, int seed, int ownedSteps)
    {
        using var memory = new MemoryManager(64L << 20);
        var fs = memory.Mount(options);
        Churn.CreateTopDirs(fs);
        const int workers = 8;
        var harness = new StressHarness(workers);
        harness.Run(id =>
        {
            var rng = new Random(seed + id);
            var data = new byte[80_000];
            rng.NextBytes(data);
            using var churn = new Churn(fs, harness, id, seed + 100 + id) { MaxOffset = 64 * 1024 };
            var owned = new List<OwnedFile>();
            try
            {
                for (var k = 0; k < 3; k++)
                {
                    owned.Add(new OwnedFile(fs, $"/d{k % Churn.TopDirs}/o{id}_{k}"));
                }

                for (var i = 0; i < ownedSteps && harness.FailureCount == 0; i++)
                {
                    owned[rng.Next(owned.Count)].Step(fs, rng, churn, harness, id, data);
                    churn.Step();
                }

                foreach (var f in owned)
                {
                    f.Verify(fs, rng, harness, id);
                }
            }
            finally
            {
                foreach (var f in owned)
                {
                    f.Dispose();
                }
            }
        });

        output.WriteLine($"{fs.UsedInodes} inodes, {fs.UsedBytes} bytes at the end");
        AssertConsistent(memory, fs);
        UnmountAndAssertFree(memory, fs);
    }
}
