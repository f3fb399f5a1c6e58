using System.Diagnostics;
using System.Runtime.InteropServices;

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

    private readonly byte*[] chunks;
    private readonly PageDescriptor[] descriptors;
    private readonly int[] freeStack;
    private readonly object[] waitTable;
    private readonly Lock freeLock = new();
    private int freeCount;
    private int carvedFrames;
    private int disposed;

    public PageFrames(long budgetBytes)
    {
        if (budgetBytes < PageSize)
        {
            TmpfsException.Throw(Errno.EINVAL, $"memory budget {budgetBytes} is below one page");
        }

        var frames = budgetBytes >> PageShift;
        if (frames > int.MaxValue - ChunkFrames)
        {
            TmpfsException.Throw(Errno.EINVAL, $"memory budget {budgetBytes} is too large");
        }

        TotalFrames = (int)frames;
        chunks = new byte*[(TotalFrames + ChunkFrames - 1) >> ChunkShift];
        descriptors = new PageDescriptor[TotalFrames];
        freeStack = new int[TotalFrames];
        waitTable = new object[WaitTableSize];
        for (var i = 0; i < waitTable.Length; i++)
        {
            waitTable[i] = new object();
        }

        for (var i = 0; i < descriptors.Length; i++)
        {
            descriptors[i].LruPrev = -1;
            descriptors[i].LruNext = -1;
        }
    }

    /// <summary>Frames the budget allows (MemTotal in pages).</summary>
    public int TotalFrames { get; }

    /// <summary>Frames not in use (MemFree in pages): on the free stack or never carved.</summary>
    public int FreeFrames
    {
        get
        {
            lock (freeLock)
            {
                return freeCount + (TotalFrames - carvedFrames);
            }
        }
    }

    /// <summary>Native bytes reserved from the operating system so far.</summary>
    public long ReservedBytes
    {
        get
        {
            lock (freeLock)
            {
                return (long)((carvedFrames + ChunkFrames - 1) >> ChunkShift) * ChunkFrames * PageSize;
            }
        }
    }

    public ref PageDescriptor this[int pfn] => ref descriptors[pfn];

    /// <summary>
    /// Takes a free frame, or returns -1 when the budget has none. The frame comes back
    /// zeroed unless <paramref name="willOverwrite"/> says the caller fills all of it.
    /// </summary>
    public int Allocate(bool willOverwrite)
    {
        int pfn;
        lock (freeLock)
        {
            if (freeCount > 0)
            {
                pfn = freeStack[--freeCount];
            }
            else if (carvedFrames < TotalFrames)
            {
                pfn = carvedFrames;
                var chunk = pfn >> ChunkShift;
                if (chunks[chunk] == null)
                {
                    var frames = Math.Min(ChunkFrames, TotalFrames - (chunk << ChunkShift));
                    chunks[chunk] = (byte*)NativeMemory.AlignedAlloc((nuint)frames * PageSize, PageSize);
                }

                carvedFrames++;
            }
            else
            {
                return -1;
            }
        }

        ref var page = ref descriptors[pfn];
        Debug.Assert(page.Mapping == null && page.Flags == 0 && page.RefCount == 0, "allocated frame still in use");
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
        lock (freeLock)
        {
            while (got < pfns.Length && freeCount > 0)
            {
                pfns[got++] = freeStack[--freeCount];
            }

            while (got < pfns.Length && carvedFrames < TotalFrames)
            {
                var pfn = carvedFrames;
                var chunk = pfn >> ChunkShift;
                if (chunks[chunk] == null)
                {
                    var frames = Math.Min(ChunkFrames, TotalFrames - (chunk << ChunkShift));
                    chunks[chunk] = (byte*)NativeMemory.AlignedAlloc((nuint)frames * PageSize, PageSize);
                }

                carvedFrames++;
                pfns[got++] = pfn;
            }
        }

        return got;
    }

    /// <summary>Returns a frame to the free stack; the caller has detached it from every owner.</summary>
    public void Free(int pfn)
    {
        ref var page = ref descriptors[pfn];
        Debug.Assert((page.Flags & (int)PageFlags.Locked) == 0, "freeing a locked page");
        page.Mapping = null;
        page.Index = 0;
        page.Flags = 0;
        page.RefCount = 0;
        page.LruPrev = -1;
        page.LruNext = -1;
        lock (freeLock)
        {
            Debug.Assert(freeCount < TotalFrames, "double free of a frame");
            freeStack[freeCount++] = pfn;
        }
    }

    /// <summary>The frame's 4 KiB of memory.</summary>
    public Span<byte> GetSpan(int pfn) => new(Address(pfn), PageSize);

    public byte* Address(int pfn)
    {
        Debug.Assert((uint)pfn < (uint)TotalFrames, "pfn out of range");
        return chunks[pfn >> ChunkShift] + ((long)(pfn & (ChunkFrames - 1)) << PageShift);
    }

    /// <summary>trylock_page(): takes the page lock if it is free.</summary>
    public bool TryLockPage(int pfn)
    {
        ref var flags = ref descriptors[pfn].Flags;
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
        ref var flags = ref descriptors[pfn].Flags;
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
        ref var flags = ref descriptors[pfn].Flags;
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

    public bool IsLocked(int pfn) => (Volatile.Read(ref descriptors[pfn].Flags) & (int)PageFlags.Locked) != 0;

    public void SetFlag(int pfn, PageFlags flag) => Interlocked.Or(ref descriptors[pfn].Flags, (int)flag);

    public void ClearFlag(int pfn, PageFlags flag) => Interlocked.And(ref descriptors[pfn].Flags, ~(int)flag);

    public bool TestFlag(int pfn, PageFlags flag) => (Volatile.Read(ref descriptors[pfn].Flags) & (int)flag) != 0;

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
                NativeMemory.AlignedFree(chunks[i]);
                chunks[i] = null;
            }
        }
    }
}
