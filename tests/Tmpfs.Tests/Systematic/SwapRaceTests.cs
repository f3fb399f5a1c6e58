using Tmpfs.Memory;
using Tmpfs.Shmem;
using Tmpfs.Tests.Swap;
using Xunit.Abstractions;

namespace Tmpfs.Tests.Systematic;

/// <summary>
/// Systematic concurrency tests (Microsoft.Coyote) of the races the kernel has had in
/// tmpfs's swap machinery. Each scenario runs two operations on a tiny budget with a swap
/// file, then checks the invariants. Each runs against the engine, where no schedule may
/// break them, and against a deliberately broken variant (BrokenVariants), where Coyote
/// must find a schedule that does: a test that cannot fail on its broken variant proves
/// nothing.
/// </summary>
public sealed class SwapRaceTests(ITestOutputHelper output) : IDisposable
{
    private const int CorrectIterations = 150;
    private const int BrokenIterations = 400;

    private readonly SwapDir dir = new();

    // 1. writepage vs unmount: the seed (b1dea800ac39).

    [Fact]
    public void WritepageVsUnmount_Engine_NoScheduleBreaksTheInvariants() =>
        ExpectNoBug(WritepageVsUnmount(ShmemSwap.WritePage));

    [Fact]
    public void WritepageVsUnmount_SeedsOldOrder_CoyoteFindsTheBug() =>
        ExpectBug(WritepageVsUnmount(BrokenVariants.WritePageOldOrder), "still on the swaplist after unmount"); // the engine's own unmount check reports it

    // 2. writepage vs swapoff (05bf86b4ccfd).

    [Fact]
    public void WritepageVsSwapoff_Engine_NoScheduleBreaksTheInvariants() =>
        ExpectNoBug(WritepageVsSwapoff(ShmemSwap.WritePage));

    [Fact]
    public void WritepageVsSwapoff_UnlockedListPeek_CoyoteFindsTheBug() =>
        ExpectBug(WritepageVsSwapoff(BrokenVariants.WritePageUnlockedPeek), "Deadlock detected"); // swapoff waits forever

    // 3. swap-in vs truncate and vs punch-hole.

    [Fact]
    public void SwapinVsTruncate_Engine_NoScheduleBreaksTheInvariants() =>
        ExpectNoBug(SwapinVsTruncation(PageCache.FindGetPage, punch: false));

    [Fact]
    public void SwapinVsTruncate_NoRecheckUnderMappingLock_CoyoteFindsTheBug() =>
        ExpectBug(SwapinVsTruncation(BrokenVariants.FindGetPageNoRecheck, punch: false), "released twice");

    [Fact]
    public void SwapinVsPunchHole_Engine_NoScheduleBreaksTheInvariants() =>
        ExpectNoBug(SwapinVsTruncation(PageCache.FindGetPage, punch: true));

    [Fact]
    public void SwapinVsPunchHole_NoRecheckUnderMappingLock_CoyoteFindsTheBug() =>
        ExpectBug(SwapinVsTruncation(BrokenVariants.FindGetPageNoRecheck, punch: true), "released twice");

    // 4. swapoff vs eviction (778dd893ae78, "shmem_unuse() stop eviction without igrab()").

    [Fact]
    public void SwapoffVsUnmount_Engine_NoScheduleBreaksTheInvariants() =>
        ExpectNoBug(SwapoffVsUnmount(brokenUnuse: false));

    [Fact]
    public void SwapoffVsUnmount_UnuseByIgrab_CoyoteFindsTheBug() =>
        ExpectBug(SwapoffVsUnmount(brokenUnuse: true), "Deadlock detected"); // the other mount's inode is lost to swapoff

    // 5. reclaim vs unmount: a page isolated by reclaim and truncated by the unmount's
    // eviction is freed by reclaim when its pass ends; unmount waits for that, so that the
    // budget is whole again when unmount returns (a property test once saw it not yet freed).

    [Fact]
    public void ReclaimVsUnmount_Engine_BudgetIsWholeWhenUnmountReturns() =>
        ExpectNoBug(ReclaimVsUnmount);

    public void Dispose() => dir.Dispose();

    private void ReclaimVsUnmount()
    {
        using var world = new SwapWorld(dir.File("swap"));
        var fs = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(fs, "/f", pages: 3, seed: 7).Dispose();
        var frames = world.Memory.Frames;

        var reclaim = Explorer.Spawn(() => world.Memory.Reclaim.Shrink(3));
        var unmount = Explorer.Spawn(() =>
        {
            fs.Unmount();
            SwapWorld.Check(frames.FreeFrames == frames.TotalFrames, $"{frames.TotalFrames - frames.FreeFrames} frame(s) not free when unmount returned");
            SwapWorld.Check(world.Memory.MemInfo.SwapFree == world.Memory.MemInfo.SwapTotal, "swap slots not free when unmount returned");
        });
        Explorer.Join(reclaim, unmount);
        world.SwapoffAndCheckEmpty();
    }

    /// <summary>
    /// Reclaim writes out the pages of a file while its mount is unmounted; a second mount's
    /// file is reclaimed in the same pass and must read back intact.
    /// </summary>
    private Action WritepageVsUnmount(Func<Inode, int, SwapWriteBatch, bool> writePage) => () =>
    {
        using var world = new SwapWorld(dir.File("swap"));
        world.Memory.WritePageHook = writePage;
        var doomed = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(doomed, "/f", pages: 2, seed: 1).Dispose();
        var keeper = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(keeper, "/g", pages: 1, seed: 2).Dispose();
        var sb = doomed.Superblock;

        var reclaim = Explorer.Spawn(() => world.Memory.Reclaim.Shrink(3));
        var unmount = Explorer.Spawn(() => doomed.Unmount());
        Explorer.Join(reclaim, unmount);

        world.CheckGone(sb);
        SwapWorld.CheckFile(keeper, "/g", 2, true);
        keeper.Unmount();
        world.SwapoffAndCheckEmpty();
    };

    /// <summary>
    /// The file was swapped out and back in, so its inode is on the swaplist with nothing
    /// swapped (prunable) when reclaim writes it out again while swapoff runs.
    /// </summary>
    private Action WritepageVsSwapoff(Func<Inode, int, SwapWriteBatch, bool> writePage) => () =>
    {
        using var world = new SwapWorld(dir.File("swap"));
        world.Memory.WritePageHook = writePage;
        var fs = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(fs, "/f", pages: 2, seed: 3).Dispose();
        world.SwapOutAll();
        SwapWorld.CheckFile(fs, "/f", 3, true, true);

        var reclaim = Explorer.Spawn(() => world.Memory.Reclaim.Shrink(2));
        var swapoff = Explorer.Spawn(() => world.Memory.Swapoff(world.SwapPath));
        Explorer.Join(reclaim, swapoff);

        SwapWorld.Check(world.Memory.SwapDevices.Count == 0, "swapoff left its device on");
        world.CheckSwappedAreListed(fs.Superblock);
        SwapWorld.CheckFile(fs, "/f", 3, true, true);
        fs.Unmount();
        world.SwapoffAndCheckEmpty();
    };

    /// <summary>
    /// Swap-in of page 1 of a swapped-out file, as a fault would do it (shmem_fault takes no
    /// i_rwsem; the engine's read path is serialized with truncation by the inode lock, so
    /// only a lock-free caller exercises swap-in's own protocol), against truncation to 0 or
    /// a hole punched over page 1. The data must never come back into the freed range.
    /// </summary>
    private Action SwapinVsTruncation(Func<Inode, long, int> findGetPage, bool punch) => () =>
    {
        using var world = new SwapWorld(dir.File("swap"));
        var fs = world.Memory.Mount("size=256k");
        using var h = SwapWorld.WriteFile(fs, "/f", pages: 3, seed: 4);
        world.SwapOutAll();
        var inode = h.Inode;
        byte[]? seen = null;

        var fault = Explorer.Spawn(() =>
        {
            var pfn = findGetPage(inode, 1);
            if (pfn >= 0)
            {
                seen = world.Memory.Frames.GetSpan(pfn).ToArray();
                world.Memory.Frames.PutPage(pfn);
            }
        });
        var truncate = Explorer.Spawn(() =>
        {
            if (punch)
            {
                h.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, SwapWorld.Page, SwapWorld.Page);
            }
            else
            {
                h.Truncate(0);
            }
        });
        Explorer.Join(fault, truncate);

        SwapWorld.Check(seen is null || seen.AsSpan().SequenceEqual(SwapWorld.Pattern(4, 1)), "the fault saw wrong data");
        SwapWorld.Check(inode.Swapped >= 0, "swapped went negative");
        if (punch)
        {
            SwapWorld.Check(inode.Alloced == 2, $"alloced {inode.Alloced} after punching one of three pages");
            SwapWorld.CheckFile(fs, "/f", 4, true, false, true);
        }
        else
        {
            SwapWorld.Check(inode.Alloced == 0 && inode.Swapped == 0, $"alloced {inode.Alloced}, swapped {inode.Swapped} after truncation to 0");
            h.Truncate(3 * SwapWorld.Page);
            SwapWorld.CheckFile(fs, "/f", 4, false, false, false);
        }

        var problems = Fsck.Check(fs.Superblock);
        SwapWorld.Check(problems.Count == 0, "fsck: " + string.Join("; ", problems));
        h.Dispose();
        fs.Unmount();
        world.SwapoffAndCheckEmpty();
    };

    /// <summary>Swapoff brings a swapped-out file back while its mount is unmounted.</summary>
    private Action SwapoffVsUnmount(bool brokenUnuse) => () =>
    {
        using var world = new SwapWorld(dir.File("swap"));
        if (brokenUnuse)
        {
            world.Memory.UnuseHook = type => BrokenVariants.UnuseWithIgrab(world.Memory, type);
        }

        var fs = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(fs, "/f", pages: 2, seed: 5).Dispose();
        world.SwapOutAll();
        var keeper = world.Memory.Mount("size=256k");
        SwapWorld.WriteFile(keeper, "/g", pages: 1, seed: 6).Dispose();
        world.SwapOutAll(); // the swaplist: /f's inode, then /g's
        var sb = fs.Superblock;

        var swapoff = Explorer.Spawn(() => world.Memory.Swapoff(world.SwapPath));
        var unmount = Explorer.Spawn(() => fs.Unmount());
        Explorer.Join(swapoff, unmount);

        world.CheckGone(sb);
        SwapWorld.Check(world.Memory.SwapDevices.Count == 0, "swapoff left its device on");
        SwapWorld.CheckFile(keeper, "/g", 6, true);
        keeper.Unmount();
        world.SwapoffAndCheckEmpty();
    };

    private void ExpectNoBug(Action scenario)
    {
        var outcome = Explorer.Explore(scenario, CorrectIterations);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.InternalError is null, outcome.InternalError);
        Assert.True(outcome.Bugs == 0, outcome.ToString());
        Assert.True(outcome.Iterations == CorrectIterations, $"only {outcome.Iterations} schedule(s) explored");
    }

    private void ExpectBug(Action scenario, string symptom)
    {
        var outcome = Explorer.Explore(scenario, BrokenIterations);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Bugs > 0, $"Coyote found no bug in the broken variant: {outcome}");
        Assert.Contains(symptom, outcome.BugReport, StringComparison.Ordinal);
    }
}
