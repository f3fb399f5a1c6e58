using System.Diagnostics;

namespace Tmpfs.Memory;

/// <summary>
/// The machine's RAM for the engine: 4 KiB page frames carved from native memory in
/// 2 MiB chunks, up to a hard budget, with a descriptor per frame. A freed frame goes
/// back on a free stack and is reused, so steady-state writes touch warm memory and
/// take no page faults. Frames are handed out dirty; <see cref="Allocate"/> zeroes
/// them unless the caller will overwrite the whole page, so no one ever sees another
/// file's data.
/// </summary>
/// <remarks>
/// Lock order: <c>freeLock</c> is a leaf; nothing else is taken while it is held.
/// The page lock (<see cref="LockPage"/>) is a per-frame bit with a hashed wait table,
/// as the kernel's folio_lock and its page_wait_table.
/// </remarks>
internal sealed unsafe class PageFrames : IDisposable
{
    public const int PageSize = 4096;
    public const int PageShift = 12;
    private const int ChunkShift = 9; // 512 frames = 2 MiB per native allocation
    private const int ChunkFrames = 1 << ChunkShift;
    private const int WaitTableSize = 256;
    private const int PopulateMin = 8; // fewer fresh frames are cheaper to fault one by one

    private readonly byte*[] chunks;
    private readonly PageDescriptor[]?[] descriptors; // one array per carved chunk: no cost for memory never used
    private readonly object[] waitTable;
    private readonly Spinlock freeLock = new();
    private int freeCount;
    private int freeHead = -1; // the free list, threaded through the descriptors' LruNext

    private int carvedFrames;
    private int limitFrames;
    private int disposed;

    public PageFrames(long budgetBytes)
        : this(budgetBytes, budgetBytes)
    {
    }

    /// <summary>
    /// A budget of <paramref name="budgetBytes"/> that <see cref="SetLimit"/> may later move
    /// anywhere up to <paramref name="capacityBytes"/> (descriptors are sized for the capacity;
    /// frame memory is still carved only as it is used).
    /// </summary>
    public PageFrames(long budgetBytes, long capacityBytes)
    {
        if (budgetBytes < PageSize)
        {
            TmpfsException.Throw(Errno.EINVAL, $"memory budget {budgetBytes} is below one page");
        }

        var frames = budgetBytes >> PageShift;
        var capacity = Math.Max(capacityBytes, budgetBytes) >> PageShift;
        if (capacity > int.MaxValue - ChunkFrames)
        {
            TmpfsException.Throw(Errno.EINVAL, $"memory budget {Math.Max(capacityBytes, budgetBytes)} is too large");
        }

        CapacityFrames = (int)capacity;
        limitFrames = (int)frames;
        chunks = new byte*[(CapacityFrames + ChunkFrames - 1) >> ChunkShift];
        descriptors = new PageDescriptor[]?[chunks.Length];
        waitTable = new object[WaitTableSize];
        for (var i = 0; i < waitTable.Length; i++)
        {
            waitTable[i] = new object();
        }

    }

    /// <summary>Frames the budget allows now (MemTotal in pages).</summary>
    public int TotalFrames => Volatile.Read(ref limitFrames);

    /// <summary>The most frames the budget may ever be set to; every pfn is below it.</summary>
    public int CapacityFrames { get; }

    /// <summary>Frames not in use (MemFree in pages): the budget less the frames handed out.</summary>
    public int FreeFrames
    {
        get
        {
            using (freeLock.Hold())
            {
                return limitFrames - (carvedFrames - freeCount);
            }
        }
    }

    /// <summary>Frames carved so far: only these have descriptors (pfn below this).</summary>
    public int CarvedFrames => Volatile.Read(ref carvedFrames);

    /// <summary>
    /// Moves the budget to <paramref name="frames"/> (as writing memory.max does). False,
    /// changing nothing, when more frames than that are in use or it exceeds the capacity.
    /// </summary>
    public bool SetLimit(int frames)
    {
        using (freeLock.Hold())
        {
            if (frames < 1 || frames > CapacityFrames || frames < carvedFrames - freeCount)
            {
                return false;
            }

            Volatile.Write(ref limitFrames, frames);
            return true;
        }
    }

    /// <summary>Native bytes reserved from the operating system so far.</summary>
    public long ReservedBytes
    {
        get
        {
            using (freeLock.Hold())
            {
                return (long)((carvedFrames + ChunkFrames - 1) >> ChunkShift) * ChunkFrames * PageSize;
            }
        }
    }

    public ref PageDescriptor this[int pfn] => ref descriptors[pfn >> ChunkShift]![pfn & (ChunkFrames - 1)];

    /// <summary>
    /// Takes a free frame, or returns -1 when the budget has none. The frame comes back
    /// zeroed unless <paramref name="willOverwrite"/> says the caller fills all of it.
    /// </summary>
    public int Allocate(bool willOverwrite)
    {
        int pfn;
        using (freeLock.Hold())
        {
            if (carvedFrames - freeCount >= limitFrames)
            {
                return -1;
            }

            if (freeCount > 0)
            {
                pfn = PopFree();
            }
            else if (carvedFrames < CapacityFrames)
            {
                pfn = carvedFrames;
                var chunk = pfn >> ChunkShift;
                if (chunks[chunk] == null)
                {
                    CarveChunk(chunk);
                }

                carvedFrames++;
            }
            else
            {
                return -1;
            }
        }

        ref var page = ref this[pfn];
        Debug.Assert(page.Mapping == null && page.Flags == 0 && page.RefCount == 0, "allocated frame still in use");
        page.RefCount = 1;
        if (!willOverwrite)
        {
            GetSpan(pfn).Clear();
        }

        return pfn;
    }

    /// <summary>
    /// Takes up to <paramref name="pfns"/>.Length frames under one acquisition of the
    /// free-list lock (for a write that fills many holes); returns how many it got. The
    /// frames are not zeroed: the caller zeroes what it does not overwrite.
    /// </summary>
    public int AllocateBatch(Span<int> pfns)
    {
        var got = 0;
        int carvedFrom, carvedTo;
        using (freeLock.Hold())
        {
            var want = Math.Min(pfns.Length, limitFrames - (carvedFrames - freeCount));
            while (got < want && freeCount > 0)
            {
                var pfn = PopFree();
                this[pfn].RefCount = 1;
                pfns[got++] = pfn;
            }

            carvedFrom = carvedFrames;
            while (got < want && carvedFrames < CapacityFrames)
            {
                var pfn = carvedFrames;
                var chunk = pfn >> ChunkShift;
                if (chunks[chunk] == null)
                {
                    CarveChunk(chunk);
                }

                carvedFrames++;
                this[pfn].RefCount = 1;
                pfns[got++] = pfn;
            }

            carvedTo = carvedFrames;
        }

        if (carvedTo - carvedFrom >= PopulateMin)
        {
            PopulateFrames(carvedFrom, carvedTo);
        }

        return got;
    }

    /// <summary>
    /// Returns a frame to the free stack; the caller has detached it from every owner and
    /// holds the last reference (or has frozen the count to zero).
    /// </summary>
    public void Free(int pfn)
    {
        ref var page = ref this[pfn];
        Debug.Assert((page.Flags & (int)PageFlags.Locked) == 0, "freeing a locked page");

        // __page_cache_release: a page can reach its last reference while on an LRU list
        // (reclaim put it back after losing a race with truncation); take it off first.
        if ((Volatile.Read(ref page.Flags) & (int)PageFlags.Lru) != 0)
        {
            ReleaseFromLru?.Invoke(pfn);
        }

        page.Mapping = null;
        page.Index = 0;
        page.Flags = 0;
        page.RefCount = 0;
        page.LruPrev = -1;
        page.LruNext = -1;
        using (freeLock.Hold())
        {
            Debug.Assert(freeCount < carvedFrames, "double free of a frame");
            page.LruNext = freeHead;
            freeHead = pfn;
            freeCount++;
        }
    }

    /// <summary>Unlinks a page from its LRU list as its last reference goes (set by <see cref="LruLists"/>).</summary>
    public Action<int>? ReleaseFromLru { get; set; }

    /// <summary>get_page(): one more reference to a frame that is already referenced.</summary>
    public void GetPage(int pfn)
    {
        var now = Interlocked.Increment(ref this[pfn].RefCount);
        Debug.Assert(now > 1, "get_page on a free frame");
    }

    /// <summary>
    /// folio_try_get(): a reference unless the count is already zero (the page is on its way
    /// to the free list). Reclaim finds pages on the LRU, which holds no reference of its own.
    /// </summary>
    public bool TryGetPage(int pfn)
    {
        ref var count = ref this[pfn].RefCount;
        var seen = Volatile.Read(ref count);
        while (seen > 0)
        {
            var was = Interlocked.CompareExchange(ref count, seen + 1, seen);
            if (was == seen)
            {
                return true;
            }

            seen = was;
        }

        return false;
    }

    /// <summary>put_page(): drops a reference; the last one frees the frame.</summary>
    public void PutPage(int pfn)
    {
        var now = Interlocked.Decrement(ref this[pfn].RefCount);
        Debug.Assert(now >= 0, "page reference count went negative");
        if (now == 0)
        {
            Free(pfn);
        }
    }

    /// <summary>
    /// folio_ref_freeze(): takes the count from <paramref name="expected"/> to 0 when nobody
    /// else holds the page, so the caller can free it; false when someone does.
    /// </summary>
    public bool FreezeRefs(int pfn, int expected) =>
        Interlocked.CompareExchange(ref this[pfn].RefCount, 0, expected) == expected;

    public int RefCount(int pfn) => Volatile.Read(ref this[pfn].RefCount);

    /// <summary>The frame's 4 KiB of memory.</summary>
    public Span<byte> GetSpan(int pfn) => new(Address(pfn), PageSize);

    /// <summary>
    /// Copies <paramref name="source"/> into the frame at <paramref name="offset"/>; a
    /// <see cref="FrameStore.NonTemporal"/> copy bypasses the cache and must be followed by
    /// <see cref="PageCopy.Fence"/> before the page is published.
    /// </summary>
    public void CopyIn(int pfn, int offset, ReadOnlySpan<byte> source, FrameStore store)
    {
        Debug.Assert((uint)offset + (uint)source.Length <= PageSize, "copy past the end of a frame");
        PageCopy.CopyIn(source, Address(pfn) + offset, store);
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes out of the frame from <paramref name="offset"/>.</summary>
    public void CopyOut(int pfn, int offset, Span<byte> destination, bool sequential = false)
    {
        Debug.Assert((uint)offset + (uint)destination.Length <= PageSize, "copy past the end of a frame");
        PageCopy.CopyOut(Address(pfn) + offset, destination, sequential);
    }

    /// <summary>Asks for the lines of [<paramref name="offset"/>, +<paramref name="length"/>) of a frame ahead of a copy out of it.</summary>
    public void Prefetch(int pfn, int offset, int length)
    {
        Debug.Assert((uint)offset + (uint)length <= PageSize, "prefetch past the end of a frame");
        PageCopy.Prefetch(Address(pfn) + offset, length);
    }

    public byte* Address(int pfn)
    {
        Debug.Assert((uint)pfn < (uint)carvedFrames, "pfn out of range");
        return chunks[pfn >> ChunkShift] + ((long)(pfn & (ChunkFrames - 1)) << PageShift);
    }

    /// <summary>
    /// Faults in the frames [from, to), just carved and never touched, in one call per chunk
    /// instead of a fault per page in the copy that fills them. Outside freeLock: another
    /// thread touching one of them meanwhile only takes the fault itself.
    /// </summary>
    private void PopulateFrames(int from, int to)
    {
        while (from < to)
        {
            var end = Math.Min(to, ((from >> ChunkShift) + 1) << ChunkShift);
            ChunkMemory.Populate(Address(from), (nuint)(end - from) * PageSize);
            from = end;
        }
    }

    // Called with freeLock held: the memory and descriptors of a chunk about to be used.
    private void CarveChunk(int chunk)
    {
        var frames = Math.Min(ChunkFrames, CapacityFrames - (chunk << ChunkShift));
        chunks[chunk] = ChunkMemory.Allocate((nuint)frames * PageSize);
        descriptors[chunk] = NewDescriptors(frames);
    }

    private static PageDescriptor[] NewDescriptors(int frames)
    {
        var array = new PageDescriptor[frames];
        for (var i = 0; i < array.Length; i++)
        {
            array[i].LruPrev = -1;
            array[i].LruNext = -1;
        }

        return array;
    }

    // Called with freeLock held.
    private int PopFree()
    {
        var pfn = freeHead;
        ref var page = ref this[pfn];
        freeHead = page.LruNext;
        page.LruNext = -1;
        freeCount--;
        return pfn;
    }

    /// <summary>trylock_page(): takes the page lock if it is free.</summary>
    public bool TryLockPage(int pfn)
    {
        ref var flags = ref this[pfn].Flags;
        var old = Volatile.Read(ref flags);
        while ((old & (int)PageFlags.Locked) == 0)
        {
            var seen = Interlocked.CompareExchange(ref flags, old | (int)PageFlags.Locked, old);
            if (seen == old)
            {
                return true;
            }

            old = seen;
        }

        return false;
    }

    /// <summary>lock_page(): sleeps until the page lock is ours.</summary>
    public void LockPage(int pfn)
    {
        if (Interleaving.Current is { } scheduler)
        {
            // A systematic test controls this thread: wait through its scheduler, which
            // cannot see the wait queue's monitor.
            scheduler.Point();
            while (!TryLockPage(pfn))
            {
                scheduler.WaitUntil(() => !IsLocked(pfn));
            }

            return;
        }

        if (TryLockPage(pfn))
        {
            return;
        }

        var spinner = default(SpinWait);
        for (var i = 0; i < 20; i++)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
            if (TryLockPage(pfn))
            {
                return;
            }
        }

        // Sleep on the hashed wait queue. PG_waiters is set under the queue's monitor
        // and only while the page is locked, so UnlockPage either sees it and pulses
        // (after we are waiting: it must take the same monitor) or we see the unlock.
        var queue = waitTable[pfn & (WaitTableSize - 1)];
        ref var flags = ref this[pfn].Flags;
        lock (queue)
        {
            while (true)
            {
                var old = Volatile.Read(ref flags);
                if ((old & (int)PageFlags.Locked) == 0)
                {
                    if (Interlocked.CompareExchange(ref flags, old | (int)PageFlags.Locked, old) == old)
                    {
                        return;
                    }

                    continue;
                }

                if ((old & (int)PageFlags.Waiters) == 0 &&
                    Interlocked.CompareExchange(ref flags, old | (int)PageFlags.Waiters, old) != old)
                {
                    continue;
                }

                Monitor.Wait(queue);
            }
        }
    }

    /// <summary>unlock_page(): releases the page lock and wakes sleepers.</summary>
    public void UnlockPage(int pfn)
    {
        ref var flags = ref this[pfn].Flags;
        var old = Interlocked.And(ref flags, ~(int)(PageFlags.Locked | PageFlags.Waiters));
        Debug.Assert((old & (int)PageFlags.Locked) != 0, "unlocking an unlocked page");
        if ((old & (int)PageFlags.Waiters) != 0)
        {
            var queue = waitTable[pfn & (WaitTableSize - 1)];
            lock (queue)
            {
                Monitor.PulseAll(queue);
            }
        }
    }

    public bool IsLocked(int pfn) => (Volatile.Read(ref this[pfn].Flags) & (int)PageFlags.Locked) != 0;

    public void SetFlag(int pfn, PageFlags flag) => Interlocked.Or(ref this[pfn].Flags, (int)flag);

    public void ClearFlag(int pfn, PageFlags flag) => Interlocked.And(ref this[pfn].Flags, ~(int)flag);

    public bool TestFlag(int pfn, PageFlags flag) => (Volatile.Read(ref this[pfn].Flags) & (int)flag) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        for (var i = 0; i < chunks.Length; i++)
        {
            if (chunks[i] != null)
            {
                var frames = Math.Min(ChunkFrames, CapacityFrames - (i << ChunkShift));
                ChunkMemory.Free(chunks[i], (nuint)frames * PageSize);
                chunks[i] = null;
            }
        }
    }
}
