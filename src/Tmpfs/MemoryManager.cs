using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// The RAM budget that any number of mounts share: the page frames, and the counters
/// /proc/meminfo would show for them. Dispose it after every mount is unmounted.
/// </summary>
public sealed partial class MemoryManager : IDisposable
{
    private readonly Lock mountsLock = new();
    private readonly List<FileSystem> mounts = [];
    private readonly List<Superblock> superblocks = []; // mounted or detached, until their teardown ends
    private long shmemPages;

    private readonly Lock swapoffLock = new();

    /// <summary>Swaplist walks without a slot coming free before swapoff gives up with EBUSY.</summary>
    private const int UnuseStalledPasses = 200;

    /// <summary>Creates a budget of <paramref name="budgetBytes"/> (rounded down to pages).</summary>
    public MemoryManager(long budgetBytes, TimeProvider? timeProvider = null)
        : this(budgetBytes, budgetBytes, timeProvider)
    {
    }

    /// <summary>
    /// Creates a budget of <paramref name="budgetBytes"/> that <see cref="SetBudget"/> may
    /// later move up to <paramref name="maxBudgetBytes"/> (as a memory cgroup's limit can be;
    /// frame descriptors, 32 bytes per 4 KiB, are reserved for the maximum).
    /// </summary>
    public MemoryManager(long budgetBytes, long maxBudgetBytes, TimeProvider? timeProvider = null)
    {
        Frames = new PageFrames(budgetBytes, maxBudgetBytes);
        Time = timeProvider ?? TimeProvider.System;
        Clock = new CoarseClock(Time);
        Lru = new LruLists(Frames);
        Swap = new SwapSpace(Frames);
        Reclaim = new Reclaim(Frames, Lru, Swap, Stat);
        Metrics = new MemoryMetrics(this);
    }

    /// <summary>The budget in bytes (MemTotal).</summary>
    public long TotalBytes => (long)Frames.TotalFrames * PageFrames.PageSize;

    /// <summary>
    /// Moves the budget to <paramref name="budgetBytes"/> (rounded down to pages), as writing
    /// a memory cgroup's limit does: raising it gives room at once; lowering it first
    /// reclaims to swap what no longer fits. EINVAL beyond the maximum given at construction;
    /// EBUSY, with the budget unchanged, when the pages in use cannot be brought under it.
    /// </summary>
    public void SetBudget(long budgetBytes)
    {
        var target = budgetBytes >> PageFrames.PageShift;
        if (target < 1 || target > Frames.CapacityFrames)
        {
            TmpfsException.Throw(Errno.EINVAL, $"memory budget {budgetBytes} is outside 1 page .. {(long)Frames.CapacityFrames * PageFrames.PageSize} bytes");
        }

        for (var attempt = 0; attempt < 8; attempt++)
        {
            if (Frames.SetLimit((int)target))
            {
                Reclaim.WakeIfLow();
                return;
            }

            var over = Frames.TotalFrames - Frames.FreeFrames - (int)target;
            if (Reclaim.Shrink(Math.Max(over, 1)) == 0 && attempt > 0)
            {
                break;
            }
        }

        TmpfsException.Throw(Errno.EBUSY, $"cannot bring the pages in use under a budget of {budgetBytes} bytes");
    }

    /// <summary>Bytes not holding any page (MemFree).</summary>
    public long FreeBytes => (long)Frames.FreeFrames * PageFrames.PageSize;

    /// <summary>Bytes of file pages resident in memory across all mounts (Shmem).</summary>
    public long ShmemBytes => Volatile.Read(ref shmemPages) * PageFrames.PageSize;

    /// <summary>Native memory reserved from the operating system for frames so far.</summary>
    public long ReservedBytes => Frames.ReservedBytes;

    /// <summary>Live mounts.</summary>
    public IReadOnlyList<FileSystem> Mounts
    {
        get
        {
            lock (mountsLock)
            {
                return [.. mounts];
            }
        }
    }

    internal PageFrames Frames { get; }

    internal LruLists Lru { get; }

    internal SwapSpace Swap { get; }

    internal Reclaim Reclaim { get; }

    internal VmStat Stat { get; } = new();

    internal Swaplist Swaplist { get; } = new();

    internal MemoryMetrics Metrics { get; }

    /// <summary>
    /// The writepage reclaim calls for tmpfs pages. Tests replace it with deliberately
    /// broken variants (the seed's old order) to show their checks catch the bug.
    /// </summary>
    internal Func<Inode, int, SwapWriteBatch, bool> WritePageHook { get; set; } = ShmemSwap.WritePage;

    /// <summary>
    /// Swapoff's walk of the swaplist (shmem_unuse) for a device type; null means
    /// <see cref="Unuse"/>. Tests replace it with deliberately broken variants (the igrab of
    /// the old shmem_unuse) to show their checks catch the bug.
    /// </summary>
    internal Action<int>? UnuseHook { get; set; }

    internal TimeProvider Time { get; }

    /// <summary>Inode time stamps: coarse with the system clock, exact with an injected one.</summary>
    internal CoarseClock Clock { get; }

    /// <summary>Parses a size with the kernel's memparse suffixes (k, m, g, t, p, e), e.g. "512M".</summary>
    public static long ParseSize(string text) => MountOptions.ParseSize(text);

    /// <summary>
    /// mount -t tmpfs -o OPTIONS: a new tmpfs sharing this budget. Options use the kernel
    /// syntax (size, nr_blocks, nr_inodes, mode, uid, gid, ...); a bad one is EINVAL.
    /// The root directory belongs to <paramref name="mounter"/> (root by default).
    /// </summary>
    public FileSystem Mount(string? options = null, Credentials? mounter = null)
    {
        var parsed = MountOptions.Parse(options, TotalBytes);
        var fs = new FileSystem(this, parsed, mounter ?? Credentials.Root);
        lock (mountsLock)
        {
            mounts.Add(fs);
            superblocks.Add(fs.Superblock);
        }

        return fs;
    }

    internal void Unregister(FileSystem fs)
    {
        lock (mountsLock)
        {
            mounts.Remove(fs);
        }
    }

    /// <summary>
    /// Superblocks whose pages may still be in use: every live mount, and detached ones
    /// until their teardown ends. For the consistency checker (<see cref="Fsck"/>).
    /// </summary>
    internal IReadOnlyList<Superblock> Superblocks
    {
        get
        {
            lock (mountsLock)
            {
                return [.. superblocks];
            }
        }
    }

    internal long ShmemPages => Volatile.Read(ref shmemPages);

    /// <summary>A superblock's teardown has ended: it holds no pages any more.</summary>
    internal void Forget(Superblock sb)
    {
        lock (mountsLock)
        {
            superblocks.Remove(sb);
        }
    }

    internal bool WritePageImpl(Inode inode, int pfn, SwapWriteBatch io) => WritePageHook(inode, pfn, io);

    /// <summary>
    /// The page allocator's slow path for page cache pages: fills <paramref name="pfns"/>
    /// with up to its length of frames (each with one reference), reclaiming directly when
    /// free memory is below the min watermark or exhausted. Returns how many it got, at
    /// least one; ENOSPC when none can be had (no free page and nothing to reclaim to swap).
    /// </summary>
    internal int AllocateFrames(Span<int> pfns)
    {
        for (var attempt = 0; ; attempt++)
        {
            // Without swap there is nothing to reclaim: ask that first, as FreeFrames takes the
            // free-list lock (which the allocation below takes anyway).
            if (Swap.HasDevices && Frames.FreeFrames - pfns.Length < Reclaim.Min)
            {
                Reclaim.DirectReclaim(pfns.Length);
            }

            var got = Frames.AllocateBatch(pfns);
            if (got > 0)
            {
                Reclaim.WakeIfLow();
                return got;
            }

            if (!Swap.HasDevices || attempt >= 8)
            {
                return TmpfsException.Throw<int>(Errno.ENOSPC, "no free page in the memory budget and nothing left to swap out");
            }

            if (Reclaim.DirectReclaim(pfns.Length) == 0)
            {
                // Other passes may hold the reclaimable pages, their writes in flight: wait
                // for them to end, then try again (a few times before giving up).
                Reclaim.WaitForPasses();
            }
        }
    }

    /// <summary>One frame from <see cref="AllocateFrames"/>, zeroed unless the caller overwrites it all.</summary>
    internal int AllocateFrame(bool willOverwrite)
    {
        Span<int> one = stackalloc int[1];
        AllocateFrames(one);
        if (!willOverwrite)
        {
            Frames.GetSpan(one[0]).Clear();
        }

        return one[0];
    }

    internal void ChargeShmem(long pages) => Interlocked.Add(ref shmemPages, pages);

    internal void UnchargeShmem(long pages) => Interlocked.Add(ref shmemPages, -pages);

    /// <summary>
    /// Releases the budget's memory. Mounts still mounted are shut down first: their
    /// inodes are evicted, and handles still open on them fail with EIO from then on.
    /// </summary>
    public void Dispose()
    {
        foreach (var fs in Mounts)
        {
            fs.Shutdown();
        }

        Reclaim.Dispose();
        Metrics.Dispose();
        foreach (var device in Swap.Snapshot())
        {
            RemoveSwapDevice(device);
        }

        Frames.Dispose();
    }
}
