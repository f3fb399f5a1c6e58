using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>swapon, swapoff and the memory counters.</summary>
public sealed partial class MemoryManager
{
    private const int MaxUnusePasses = 1000;

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
            var backing = SwapFileBacking.Open(full, slots * PageFrames.PageSize, create: created);
            return new SwapDevice(type, full, slots, priority, backing, created);
        });
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
                // try_to_unuse: a writepage that took its slot just before WriteOk fell may
                // publish the entry after a pass went by, so pass again until none is left.
                for (var pass = 0; device.InUse != 0; pass++)
                {
                    if (pass == MaxUnusePasses)
                    {
                        TmpfsException.Throw(Errno.EBUSY, $"{device.InUse} slot(s) of '{path}' still in use after {pass} passes");
                    }

                    Unuse(device.Type);
                    if (device.InUse != 0)
                    {
                        Thread.Sleep(pass < 10 ? 0 : 1);
                    }
                }
            }
            catch (TmpfsException)
            {
                device.WriteOk = true;
                throw;
            }

            RemoveSwapDevice(device);
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
    /// shmem_unuse: walks the swaplist; each inode with swapped pages is held against
    /// eviction by stop_eviction (never a reference count) while the list lock is dropped
    /// and its pages on <paramref name="type"/> come back; an inode with nothing swapped is pruned.
    /// </summary>
    private void Unuse(int type)
    {
        var list = Swaplist;
        Monitor.Enter(list.ListLock);
        try
        {
            var inode = list.First;
            while (inode is not null)
            {
                if (Volatile.Read(ref inode.Swapped) == 0)
                {
                    var after = inode.SwapNext;
                    list.Remove(inode);
                    inode = after;
                    continue;
                }

                inode.StopEviction++;
                Monitor.Exit(list.ListLock);
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
                    Monitor.Enter(list.ListLock);
                }

                // Restart from the head if the inode left the list while we worked on it.
                var next = inode.OnSwaplist ? inode.SwapNext : list.First;
                if (Volatile.Read(ref inode.Swapped) == 0)
                {
                    list.Remove(inode);
                }

                if (--inode.StopEviction == 0)
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
            try
            {
                File.Delete(device.Path);
            }
            catch (IOException)
            {
                // The file stays; the device is gone all the same.
            }
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
