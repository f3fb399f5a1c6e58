using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>swapon, swapoff and the memory counters.</summary>
public sealed partial class MemoryManager
{

    /// <summary>
    /// swapon(2): adds a swap file of <paramref name="sizeBytes"/> (whole pages) with a
    /// priority (higher is used first; equal priorities take turns). A missing file is
    /// created with mode 0600 and removed again at swapoff; an existing one is used as is,
    /// its blocks allocated. EBUSY if the file is already in use.
    /// </summary>
    public void Swapon(string path, long sizeBytes, int priority = -1)
    {
        var slots = sizeBytes / PageFrames.PageSize;
        if (slots < 1)
        {
            TmpfsException.Throw(Errno.EINVAL, "swap area smaller than one page");
        }

        var full = Path.GetFullPath(path);
        Swap.Add(full, slots, priority, type =>
        {
            var created = !File.Exists(full);
            SwapFileBacking backing;
            try
            {
                backing = SwapFileBacking.Open(full, slots * PageFrames.PageSize, create: created);
            }
            catch (TmpfsException) when (created)
            {
                // A swapon that fails (ENOSPC from the preallocation on a full disk) leaves
                // nothing behind: not the file it created, nor the blocks it got so far.
                TryDelete(full);
                throw;
            }

            return new SwapDevice(type, full, slots, priority, backing, created);
        });
    }

    /// <summary>
    /// swapon with a backing the caller made (tests inject one that fails or corrupts).
    /// <paramref name="name"/> identifies the device for <see cref="Swapoff"/>; no file is
    /// created or removed. The device owns the backing from here on.
    /// </summary>
    internal void Swapon(string name, long slots, int priority, SwapBacking backing)
    {
        if (slots < 1)
        {
            TmpfsException.Throw(Errno.EINVAL, "swap area smaller than one page");
        }

        Swap.Add(name, slots, priority, type => new SwapDevice(type, Path.GetFullPath(name), slots, priority, backing, created: false));
    }

    /// <summary>
    /// swapoff(2): brings every page on the device back into memory (walking the swaplist)
    /// and removes it. ENOMEM, with the device left in use, when memory cannot hold them;
    /// EINVAL when the file is not a swap device here.
    /// </summary>
    public void Swapoff(string path)
    {
        lock (swapoffLock)
        {
            var device = Swap.FindByPath(path) ?? TmpfsException.Throw<SwapDevice>(Errno.EINVAL, $"'{path}' is not an active swap file");
            device.WriteOk = false; // no new slots while we empty it
            try
            {
                UnuseUntilEmpty(device);
            }
            catch (TmpfsException)
            {
                device.WriteOk = true;
                throw;
            }

            RemoveSwapDevice(device);
        }
    }

    /// <summary>
    /// try_to_unuse: walks the swaplist until no slot of <paramref name="device"/> is in use.
    /// One walk is not enough: a writepage that took its slot before WriteOk was cleared may
    /// still be on its way, its inode listed with swapped raised but its page not yet a swap
    /// entry, so the walk finds nothing of it; the kernel walks again until inuse_pages is 0.
    /// EBUSY when walks stop making progress (a slot that no page cache refers to).
    /// </summary>
    private void UnuseUntilEmpty(SwapDevice device)
    {
        var left = long.MaxValue;
        var stalled = 0;
        while (true)
        {
            var written = Volatile.Read(ref Stat.PswpOut);
            if (UnuseHook is { } unuse)
            {
                unuse(device.Type);
            }
            else
            {
                Unuse(device.Type);
            }

            var inUse = device.InUse;
            if (inUse == 0)
            {
                return;
            }

            if (inUse < left)
            {
                left = inUse;
                stalled = 0;
            }
            else if (++stalled >= UnuseStalledPasses)
            {
                TmpfsException.Throw(Errno.EBUSY, $"{inUse} slot(s) of '{device.Path}' still in use after unuse");
            }

            // Let the writepage in flight finish: its page becomes a swap entry once written
            // (or, if the write fails, its slot is released).
            if (Interleaving.Current is { } scheduler)
            {
                scheduler.WaitUntil(() => device.InUse != inUse || Volatile.Read(ref Stat.PswpOut) != written);
            }
            else if (stalled < 16)
            {
                // Reclaim passes that took a cluster of this device before it stopped taking
                // writes may still be writing pages to it: wait for them (a pause waits for
                // every pass in flight), then walk again to bring those in.
                using (Reclaim.Pause())
                {
                }
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>The active swap devices: path, size, used, priority (as /proc/swaps).</summary>
    public IReadOnlyList<SwapInfo> SwapDevices
    {
        get
        {
            var list = new List<SwapInfo>();
            foreach (var d in Swap.Snapshot())
            {
                list.Add(new SwapInfo(d.Path, d.Slots * PageFrames.PageSize, d.InUse * PageFrames.PageSize, d.Priority));
            }

            return list;
        }
    }

    /// <summary>What /proc/meminfo and /proc/vmstat would show for this budget.</summary>
    public MemInfo MemInfo => new()
    {
        MemTotal = TotalBytes,
        MemFree = FreeBytes,
        Shmem = ShmemBytes,
        Active = Lru.ActiveCount * PageFrames.PageSize,
        Inactive = Lru.InactiveCount * PageFrames.PageSize,
        SwapTotal = Swap.TotalSlots * PageFrames.PageSize,
        SwapFree = Swap.FreeSlots * PageFrames.PageSize,
        SwapCached = Swap.CachedPages * PageFrames.PageSize,
        PswpIn = Volatile.Read(ref Stat.PswpIn),
        PswpOut = Volatile.Read(ref Stat.PswpOut),
        PgScan = Volatile.Read(ref Stat.PgScan),
        PgSteal = Volatile.Read(ref Stat.PgSteal),
        AllocStall = Volatile.Read(ref Stat.AllocStall),
        SwapWriteErrors = Volatile.Read(ref Stat.SwapWriteErrors),
        SwapReadErrors = Volatile.Read(ref Stat.SwapReadErrors),
        InvariantViolations = Volatile.Read(ref Stat.InvariantViolations),
    };

    /// <summary>
    /// A consistency check of the whole budget, as an fsck of every mount would make
    /// together with the memory layer's books: the namespace and page caches of each mount,
    /// frames in use == frames in page caches + swap cache, used blocks == resident +
    /// swapped pages, Shmem, and the swaplist (only inodes of mounts still alive, none
    /// evicted); with no mount left, no swap slot in use and nothing in the swap cache.
    /// Returns the problems found, one line each (empty when consistent). It pauses reclaim
    /// and locks each mount while it looks; it is exact only when no operation is in flight.
    /// </summary>
    public IReadOnlyList<string> CheckConsistency()
    {
        var problems = Fsck.CheckMemory(this);
        using (Reclaim.Pause())
        {
            var live = new HashSet<Superblock>(Superblocks, ReferenceEqualityComparer.Instance);
            foreach (var inode in Swaplist.Snapshot())
            {
                if (!live.Contains(inode.Sb))
                {
                    problems.Add($"inode {inode.Ino} on the swaplist belongs to a mount that is gone ({inode.Swapped} page(s) swapped)");
                }
                else if (inode.Evicted)
                {
                    problems.Add($"inode {inode.Ino} on the swaplist is evicted");
                }
            }

            if (live.Count == 0)
            {
                foreach (var device in Swap.Snapshot())
                {
                    var used = device.InUse;
                    if (used != 0)
                    {
                        problems.Add($"swap device '{device.Path}': {used} slot(s) in use with no mount left");
                    }
                }

                var cached = Swap.CachedPages;
                if (cached != 0)
                {
                    problems.Add($"{cached} page(s) in the swap cache with no mount left");
                }
            }
        }

        return problems;
    }

    /// <summary>
    /// shmem_unuse: walks the swaplist; each inode with swapped pages is held against
    /// eviction by stop_eviction (never a reference count) while the list lock is dropped
    /// and its pages on <paramref name="type"/> come back; an inode with nothing swapped is pruned.
    /// </summary>
    private void Unuse(int type)
    {
        var list = Swaplist;
        Interleaving.Point();
        Monitor.Enter(list.ListLock);
        try
        {
            var inode = list.First;
            while (inode is not null)
            {
                if (inode.Swapped == 0)
                {
                    var after = inode.SwapNext;
                    list.Remove(inode);
                    inode = after;
                    continue;
                }

                inode.Swap.StopEviction++;
                Monitor.Exit(list.ListLock);
                Interleaving.Point();
                TmpfsException? error = null;
                try
                {
                    ShmemSwap.UnuseInode(inode, type);
                }
                catch (TmpfsException e)
                {
                    error = e;
                }
                finally
                {
                    Interleaving.Point();
                    Monitor.Enter(list.ListLock);
                }

                // Restart from the head if the inode left the list while we worked on it.
                var next = inode.OnSwaplist ? inode.SwapNext : list.First;
                if (inode.Swapped == 0)
                {
                    list.Remove(inode);
                }

                if (--inode.Swap.StopEviction == 0)
                {
                    Monitor.PulseAll(list.ListLock);
                }

                if (error is not null)
                {
                    TmpfsException.Throw(error.Errno == Errno.ENOSPC ? Errno.ENOMEM : error.Errno, "swapoff: " + error.Message);
                }

                inode = next;
            }
        }
        finally
        {
            Monitor.Exit(list.ListLock);
        }
    }

    private void RemoveSwapDevice(SwapDevice device)
    {
        Swap.Remove(device);
        device.Dispose();
        if (device.Created)
        {
            TryDelete(device.Path);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The file stays; the device is gone all the same.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One active swap device, as a line of /proc/swaps.</summary>
public readonly record struct SwapInfo(string Path, long SizeBytes, long UsedBytes, int Priority);

/// <summary>Memory counters of a budget, named as in /proc/meminfo and /proc/vmstat (bytes, or event counts).</summary>
public readonly record struct MemInfo
{
    public long MemTotal { get; init; }

    public long MemFree { get; init; }

    public long Shmem { get; init; }

    public long Active { get; init; }

    public long Inactive { get; init; }

    public long SwapTotal { get; init; }

    public long SwapFree { get; init; }

    public long SwapCached { get; init; }

    /// <summary>Pages read from swap.</summary>
    public long PswpIn { get; init; }

    /// <summary>Pages written to swap.</summary>
    public long PswpOut { get; init; }

    /// <summary>Pages reclaim looked at.</summary>
    public long PgScan { get; init; }

    /// <summary>Pages reclaim freed.</summary>
    public long PgSteal { get; init; }

    /// <summary>Allocations that had to reclaim directly.</summary>
    public long AllocStall { get; init; }

    public long SwapWriteErrors { get; init; }

    public long SwapReadErrors { get; init; }

    /// <summary>Unmount invariant violations found (must stay 0).</summary>
    public long InvariantViolations { get; init; }
}
