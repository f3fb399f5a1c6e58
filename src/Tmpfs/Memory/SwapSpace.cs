using System.Diagnostics;

namespace Tmpfs.Memory;

/// <summary>
/// The swap areas of one budget (swap_info[] with swap_avail_heads) and the swap cache.
/// Slots come from the highest-priority device with room; devices of equal priority take
/// turns. The swap cache maps a swap entry to the frame holding its data while the page
/// is on its way out to, or back in from, the device.
/// </summary>
/// <remarks>
/// <c>devicesLock</c> (swap_lock) guards the device table; <c>cacheLock</c> (the swap
/// address space's xa_lock) guards the swap cache. Both are leaves below the page lock.
/// </remarks>
internal sealed class SwapSpace : IDisposable
{
    public const int MaxDevices = 32; // MAX_SWAPFILES

    private readonly Lock devicesLock = new();
    private readonly Lock cacheLock = new();
    private readonly SwapDevice?[] devices = new SwapDevice?[MaxDevices];
    private readonly Dictionary<long, int> cache = [];
    private readonly PageFrames frames;
    private volatile SwapDevice[] byPriority = []; // the devices, highest priority first; rebuilt under devicesLock
    private int rotor;

    public SwapSpace(PageFrames frames)
    {
        this.frames = frames;
    }

    /// <summary>SwapTotal, in pages (devices being swapped off excluded, as the kernel does).</summary>
    public long TotalSlots
    {
        get
        {
            long total = 0;
            foreach (var d in Snapshot())
            {
                if (d.WriteOk)
                {
                    total += d.Slots;
                }
            }

            return total;
        }
    }

    /// <summary>SwapFree, in pages.</summary>
    public long FreeSlots
    {
        get
        {
            long free = 0;
            foreach (var d in Snapshot())
            {
                if (d.WriteOk)
                {
                    free += d.Slots - d.InUse;
                }
            }

            return free;
        }
    }

    /// <summary>SwapCached, in pages.</summary>
    public long CachedPages
    {
        get
        {
            lock (cacheLock)
            {
                return cache.Count;
            }
        }
    }

    public bool HasDevices
    {
        get
        {
            foreach (var d in byPriority)
            {
                if (d.WriteOk)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public List<SwapDevice> Snapshot()
    {
        lock (devicesLock)
        {
            var list = new List<SwapDevice>();
            foreach (var d in devices)
            {
                if (d is not null)
                {
                    list.Add(d);
                }
            }

            return list;
        }
    }

    public SwapDevice? Device(int type) => (uint)type < MaxDevices ? Volatile.Read(ref devices[type]) : null;

    public SwapDevice? FindByPath(string path)
    {
        var full = Path.GetFullPath(path);
        foreach (var d in Snapshot())
        {
            if (string.Equals(d.Path, full, StringComparison.Ordinal))
            {
                return d;
            }
        }

        return null;
    }

    /// <summary>sys_swapon: adds a device; EBUSY when the file is already in use, EPERM when the table is full.</summary>
    public SwapDevice Add(string path, long slots, int priority, Func<int, SwapDevice> create)
    {
        lock (devicesLock)
        {
            var full = Path.GetFullPath(path);
            foreach (var d in devices)
            {
                if (d is not null && string.Equals(d.Path, full, StringComparison.Ordinal))
                {
                    TmpfsException.Throw(Errno.EBUSY, $"swap file '{path}' is already in use");
                }
            }

            for (var type = 0; type < MaxDevices; type++)
            {
                if (devices[type] is null)
                {
                    var device = create(type);
                    devices[type] = device;
                    RebuildPriorityOrder();
                    return device;
                }
            }

            return TmpfsException.Throw<SwapDevice>(Errno.EPERM, "too many swap devices");
        }
    }

    public void Remove(SwapDevice device)
    {
        lock (devicesLock)
        {
            Debug.Assert(ReferenceEquals(devices[device.Type], device), "removing an unknown swap device");
            devices[device.Type] = null;
            RebuildPriorityOrder();
        }
    }

    private void RebuildPriorityOrder()
    {
        var list = new List<SwapDevice>();
        foreach (var d in devices)
        {
            if (d is not null)
            {
                list.Add(d);
            }
        }

        // Stable: equal priorities keep the table's order, and take turns by the rotor.
        byPriority = [.. list.OrderByDescending(static d => d.Priority)];
    }

    /// <summary>
    /// get_swap_pages / folio_alloc_swap: up to <paramref name="max"/> consecutive slots from
    /// the highest priority device with room, equal priorities in turn; <paramref name="count"/>
    /// is how many (0: none, all full or off).
    /// </summary>
    public SwapEntry AllocateRun(int max, out int count)
    {
        var list = byPriority;
        var i = 0;
        while (i < list.Length)
        {
            var priority = list[i].Priority;
            var j = i;
            while (j < list.Length && list[j].Priority == priority)
            {
                j++;
            }

            var group = j - i;
            var start = group == 1 ? 0 : Interlocked.Increment(ref rotor);
            for (var k = 0; k < group; k++)
            {
                var device = list[i + (int)((uint)(start + k) % (uint)group)];
                count = device.AllocateRun(max, out var first);
                if (count > 0)
                {
                    return new SwapEntry(device.Type, first);
                }
            }

            i = j;
        }

        count = 0;
        return default;
    }

    /// <summary>add_to_swap_cache for writepage: the frame now holds the data of <paramref name="entry"/>.</summary>
    public void AddToCache(SwapEntry entry, int pfn)
    {
        lock (cacheLock)
        {
            cache.Add(entry.Value, pfn);
        }
    }

    /// <summary>
    /// swap_cache_get_folio: the frame caching <paramref name="entry"/>, with a reference
    /// taken for the caller, or -1.
    /// </summary>
    public int LookupCache(SwapEntry entry)
    {
        lock (cacheLock)
        {
            return GetCachedLocked(entry);
        }
    }

    /// <summary>
    /// swapcache_prepare + add_to_swap_cache for swap-in: puts the new frame
    /// <paramref name="pfn"/> in the cache for <paramref name="entry"/>. Returns -1 when it
    /// did; the frame already caching the entry (with a reference for the caller) when there
    /// is one; -2 when the entry is no longer referenced (truncated: look again).
    /// </summary>
    public int InsertForSwapIn(SwapEntry entry, int pfn)
    {
        lock (cacheLock)
        {
            var existing = GetCachedLocked(entry);
            if (existing >= 0)
            {
                return existing;
            }

            if (!Device(entry.Type)!.TryAddCache(entry.Offset))
            {
                return -2;
            }

            cache.Add(entry.Value, pfn);
            return -1;
        }
    }

    /// <summary>
    /// delete_from_swap_cache: the caller holds the page lock and takes over the cache's
    /// reference; the slot loses the holders given.
    /// </summary>
    public void DeleteFromCache(SwapEntry entry, int pfn, byte releaseHolders)
    {
        lock (cacheLock)
        {
            var removed = cache.Remove(entry.Value, out var cached);
            Debug.Assert(removed && cached == pfn, "swap cache out of step");
            if (releaseHolders != 0)
            {
                Device(entry.Type)!.Release(entry.Offset, releaseHolders);
            }
        }
    }

    /// <summary>
    /// free_swap_and_cache, first half: the page cache entry is gone, so the slot loses that
    /// holder. Returns the frame caching the slot (with a reference for the caller, who then
    /// locks it and calls <see cref="DropFromCacheIfUnreferenced"/>), or -1.
    /// </summary>
    public int ReleaseEntry(SwapEntry entry)
    {
        lock (cacheLock)
        {
            Device(entry.Type)!.Release(entry.Offset, SwapDevice.MapEntry);
            return GetCachedLocked(entry);
        }
    }

    // The frame caching the entry with a reference for the caller, or -1; cacheLock held, so
    // the cache's own reference keeps the count above zero while we take ours.
    private int GetCachedLocked(SwapEntry entry)
    {
        Debug.Assert(cacheLock.IsHeldByCurrentThread, "swap cache lock not held");
        if (cache.TryGetValue(entry.Value, out var pfn))
        {
            frames.GetPage(pfn);
            return pfn;
        }

        return -1;
    }

    /// <summary>
    /// With the page locked: when no page cache entry refers to the slot any more, the page
    /// leaves the swap cache and the slot is freed. The caller then puts the cache's reference.
    /// </summary>
    public bool DropFromCacheIfUnreferenced(SwapEntry entry, int pfn)
    {
        lock (cacheLock)
        {
            if (!cache.TryGetValue(entry.Value, out var cached) || cached != pfn)
            {
                return false;
            }

            var device = Device(entry.Type)!;
            if ((device.MapOf(entry.Offset) & SwapDevice.MapEntry) != 0)
            {
                return false;
            }

            cache.Remove(entry.Value);
            device.Release(entry.Offset, SwapDevice.MapCache);
            return true;
        }
    }

    /// <summary>
    /// Reclaim's end of a swap-out (__remove_mapping for a swap-cache folio): when only the
    /// cache and the caller hold the frame, it leaves the cache, the slot keeps only the page
    /// cache entry's hold, and the count is frozen at 0 for the caller to free the frame.
    /// False when someone else took a reference meanwhile.
    /// </summary>
    public bool TryRemoveFromCacheFrozen(SwapEntry entry, int pfn, int callerRefs)
    {
        lock (cacheLock)
        {
            if (!cache.TryGetValue(entry.Value, out var cached) || cached != pfn)
            {
                return false;
            }

            if (!frames.FreezeRefs(pfn, callerRefs + 1))
            {
                return false;
            }

            cache.Remove(entry.Value);
            Device(entry.Type)!.Release(entry.Offset, SwapDevice.MapCache);
            return true;
        }
    }

    public void Dispose()
    {
        foreach (var d in Snapshot())
        {
            d.Dispose();
        }
    }
}
