using System.Diagnostics;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// The swap side of tmpfs (mm/shmem.c): writepage (a page cache page becomes a swap
/// entry), swap-in (a swap entry becomes a page again, with readahead), freeing swap
/// entries on truncation, and unuse (swapoff bringing a device's pages back).
/// </summary>
/// <remarks>
/// The invariants, as the seed states them:
/// 1. A locked page still in an inode's page cache keeps that inode alive: eviction locks
///    every page to truncate it. Once the page has become a swap entry, nothing of it pins
///    the inode, so writepage does everything it needs of the inode (joining the swaplist,
///    counting swapped) before that moment.
/// 2. An inode with swapped &gt; 0 is on the swaplist: swapped is raised under the swaplist
///    lock in the same critical section that adds the inode, and swapoff prunes an inode only
///    when it sees swapped == 0 under that lock.
/// 3. Nothing here takes a reference count on an inode: unmount ignores them.
/// </remarks>
internal static class ShmemSwap
{
    /// <summary>Readahead of a swap-in that does not follow the last one: page-cluster 3, 8 pages.</summary>
    private const int ReadaheadPages = 8;

    /// <summary>
    /// The largest swap-in run, one read of 4 MiB: what a sequential stream of swap-ins ramps
    /// up to (doubling from <see cref="ReadaheadPages"/>), and what swapoff reads at once.
    /// </summary>
    private const int MaxSwapInRun = 1024;

    /// <summary>
    /// shmem_writepage: reclaim has isolated and locked <paramref name="pfn"/>, a page of
    /// <paramref name="inode"/>'s page cache. Returns false to keep the page resident.
    /// </summary>
    public static bool WritePage(Inode inode, int pfn, SwapWriteBatch io)
    {
        var sb = inode.Sb;
        var memory = sb.Memory;
        var frames = sb.Frames;
        Debug.Assert(frames.IsLocked(pfn), "writepage without the page lock");
        if (sb.NoSwap)
        {
            return false;
        }

        var index = frames[pfn].Index;
        var slot = io.TakeSlot();
        if (slot is not { } entry)
        {
            return false; // swap full: redirty and keep
        }

        var device = memory.Swap.Device(entry.Type)!;
        Interleaving.Point();

        // The seed's fix: join the swaplist now, while the locked page is still in the page
        // cache and so still pins the inode against eviction, and raise swapped in the same
        // critical section so that no prune can see the inode on the list with nothing swapped.
        lock (memory.Swaplist.ListLock)
        {
            if (!inode.OnSwaplist)
            {
                memory.Swaplist.MoveTail(inode);
            }

            inode.AddSwapped(1);
        }

        Interleaving.Point();
        if (!MoveToSwapCache(inode, pfn, index, entry))
        {
            // Busy (someone holds the page) or truncated: keep it. Swapped was raised for
            // nothing; the inode stays listed until swapoff prunes it or it is evicted.
            inode.AddSwapped(-1);
            device.Release(entry.Offset, SwapDevice.MapEntry | SwapDevice.MapCache);
            return false;
        }

        io.Add(device, entry, pfn, inode, index);
        return true;
    }

    /// <summary>
    /// The page cache entry becomes the swap entry and the page moves to the swap cache
    /// (shmem_delete_from_page_cache + add_to_swap_cache). Refused when anyone but the page
    /// cache and reclaim holds the page: they may be reading or writing it.
    /// </summary>
    public static bool MoveToSwapCache(Inode inode, int pfn, long index, SwapEntry entry)
    {
        var sb = inode.Sb;
        var frames = sb.Frames;
        lock (inode.MappingLock)
        {
            if (frames.RefCount(pfn) != 2 || inode.Pages.Get(index) != PageCacheTree.FrameEntry(pfn))
            {
                return false;
            }

            if (!frames.TestFlag(pfn, PageFlags.Uptodate))
            {
                // A fallocated page not yet written is zeroes: it goes out as data (shmem_writeout).
                frames.SetFlag(pfn, PageFlags.Uptodate);
            }

            inode.Pages.Set(index, PageCacheTree.SwapEntry(entry.Value));
            ref var page = ref frames[pfn];
            page.Mapping = null;
            page.Index = entry.Value;
            frames.SetFlag(pfn, PageFlags.SwapCache);
            sb.Memory.Swap.AddToCache(entry, pfn);
        }

        sb.Memory.UnchargeShmem(1);
        return true;
    }

    /// <summary>
    /// end_swap_bio_write on error: the page goes back into the page cache, resident and
    /// dirty, unless truncation removed its entry meanwhile (then truncation, waiting on the
    /// page lock, takes it out of the swap cache).
    /// </summary>
    public static void WritePageFailed(Inode inode, int pfn, SwapEntry entry, long index)
    {
        var sb = inode.Sb;
        var memory = sb.Memory;
        var frames = sb.Frames;
        bool restored;
        lock (inode.MappingLock)
        {
            restored = inode.Pages.Get(index) == PageCacheTree.SwapEntry(entry.Value);
            if (restored)
            {
                inode.Pages.Set(index, PageCacheTree.FrameEntry(pfn));
                ref var page = ref frames[pfn];
                page.Mapping = inode;
                page.Index = index;
                frames.ClearFlag(pfn, PageFlags.SwapCache);
                frames.SetFlag(pfn, PageFlags.Dirty);
                memory.Swap.DeleteFromCache(entry, pfn, SwapDevice.MapEntry | SwapDevice.MapCache);
            }
        }

        if (restored)
        {
            memory.ChargeShmem(1);
            inode.AddSwapped(-1);
        }
    }

    /// <summary>
    /// shmem_swapin_folio: brings the page at <paramref name="index"/> (whose entry was
    /// <paramref name="entry"/>) back into the page cache and returns its frame with a
    /// reference for the caller, or -1 when the entry changed meanwhile (look again).
    /// Reads the following slots of the same file in the same I/O (readahead). A failed
    /// read or a checksum mismatch is EIO, and the entry stays on swap.
    /// </summary>
    public static int SwapIn(Inode inode, long index, long entry)
    {
        // A swap-in where the previous run ended continues a stream: the window doubles, and
        // the run may reclaim to make room (the stream's older pages are the ones to go).
        // Otherwise 8 pages, and readahead beyond the page asked for never pushes memory
        // into reclaim.
        var sequential = Volatile.Read(ref inode.SwapReadaheadNext) == index;
        var window = sequential ? Math.Clamp(inode.SwapReadaheadWindow * 2, ReadaheadPages, MaxRun(inode)) : ReadaheadPages;
        return SwapIn(inode, index, entry, window, sequential);
    }

    /// <summary>The longest run for this budget: 4 MiB, but no more than a reclaim pass takes.</summary>
    private static int MaxRun(Inode inode) => Math.Clamp(inode.Sb.Memory.Reclaim.PassPages, ReadaheadPages, MaxSwapInRun);

    /// <summary>
    /// free_swap_and_cache for an entry truncation has just erased from the page cache:
    /// the slot loses the entry's hold, and a page caching it leaves the swap cache.
    /// </summary>
    public static void FreeSwapEntry(Inode inode, SwapEntry entry)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        Interleaving.Point();
        var pfn = memory.Swap.ReleaseEntry(entry);
        if (pfn >= 0)
        {
            frames.LockPage(pfn);
            if (frames.TestFlag(pfn, PageFlags.SwapCache) && frames[pfn].Index == entry.Value &&
                memory.Swap.DropFromCacheIfUnreferenced(entry, pfn))
            {
                frames.ClearFlag(pfn, PageFlags.SwapCache);
                memory.Lru.Remove(pfn);
                frames.UnlockPage(pfn);
                frames.PutPage(pfn); // the swap cache's reference
            }
            else
            {
                frames.UnlockPage(pfn);
            }

            frames.PutPage(pfn); // ours
        }

        inode.AddSwapped(-1);
    }

    /// <summary>
    /// shmem_unuse_inode: swaps in every page of <paramref name="inode"/> that is on device
    /// <paramref name="type"/>. The caller holds the inode by stop_eviction, not the list lock.
    /// </summary>
    public static void UnuseInode(Inode inode, int type)
    {
        Interleaving.Enter(inode);
        try
        {
            if (inode.Evicted)
            {
                return;
            }

            // The runs of consecutive pages in consecutive slots, swapped in by two threads at
            // once: one run's read is on the device while the other's pages are installed.
            // (Not under a systematic-test scheduler: it controls only its own tasks.)
            var runs = CollectRuns(inode, type);
            if (runs.Count > 1 && Interleaving.Current is null)
            {
                SwapInRuns(inode, runs);
            }

            // Then in order, whatever is left (entries that moved meanwhile).
            long index = 0;
            while (true)
            {
                Interleaving.Point();
                bool found;
                long at, entry;
                lock (inode.MappingLock)
                {
                    found = NextSwapEntry(inode, index, type, out at, out entry);
                }

                if (!found)
                {
                    return;
                }

                var pfn = SwapIn(inode, at, entry, MaxRun(inode), allowReclaim: true);
                if (pfn >= 0)
                {
                    inode.Sb.Frames.PutPage(pfn);
                    index = at + 1;
                }
            }
        }
        finally
        {
            Monitor.Exit(inode);
        }
    }

    /// <summary>The first index and entry of each run (consecutive pages in consecutive slots) on <paramref name="type"/>.</summary>
    private static List<(long Index, long Entry)> CollectRuns(Inode inode, int type)
    {
        var runs = new List<(long Index, long Entry)>();
        var max = MaxRun(inode);
        lock (inode.MappingLock)
        {
            long from = 0, lastIndex = -2, lastSlot = -2;
            var length = 0;
            while (NextSwapEntry(inode, from, type, out var at, out var entry))
            {
                var slot = SwapEntry.FromValue(PageCacheTree.ToSwap(entry)).Offset;
                if (length > 0 && length < max && at == lastIndex + 1 && slot == lastSlot + 1)
                {
                    length++;
                }
                else
                {
                    runs.Add((at, entry));
                    length = 1;
                }

                lastIndex = at;
                lastSlot = slot;
                from = at + 1;
            }
        }

        return runs;
    }

    /// <summary>Swaps in <paramref name="runs"/> on this thread and one helper; the first error is thrown.</summary>
    private static void SwapInRuns(Inode inode, List<(long Index, long Entry)> runs)
    {
        var frames = inode.Sb.Frames;
        var max = MaxRun(inode);
        var next = -1;
        TmpfsException? error = null;
        void Work()
        {
            int i;
            while (Volatile.Read(ref error) is null && (i = Interlocked.Increment(ref next)) < runs.Count)
            {
                try
                {
                    var pfn = SwapIn(inode, runs[i].Index, runs[i].Entry, max, allowReclaim: true);
                    if (pfn >= 0)
                    {
                        frames.PutPage(pfn);
                    }
                }
                catch (TmpfsException e)
                {
                    Interlocked.CompareExchange(ref error, e, null);
                }
            }
        }

        var helper = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Work();
        helper.Wait();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    private static bool NextSwapEntry(Inode inode, long from, int type, out long index, out long entry)
    {
        while (inode.Pages.NextPresent(from, long.MaxValue, out index, out entry))
        {
            if (PageCacheTree.IsSwap(entry) && SwapEntry.FromValue(PageCacheTree.ToSwap(entry)).Type == type)
            {
                return true;
            }

            from = index + 1;
        }

        return false;
    }

    private static int SwapIn(Inode inode, long index, long entry, int window, bool allowReclaim)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var swapEntry = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));
        Interleaving.Point();
        var pfn = memory.Swap.LookupCache(swapEntry);
        if (pfn >= 0)
        {
            frames.LockPage(pfn);
            return Install(inode, index, entry, pfn, fresh: false);
        }

        return ReadRun(inode, index, swapEntry, window, allowReclaim);
    }

    /// <summary>
    /// With <paramref name="pfn"/> locked and referenced: if it is still the swap-cache page
    /// of <paramref name="entry"/>, it takes the entry's place at <paramref name="index"/> and
    /// the slot is freed. Unlocks the page; returns it with the caller's reference, or -1
    /// (the reference put) when the entry changed meanwhile (look again).
    /// </summary>
    private static int Install(Inode inode, long index, long entry, int pfn, bool fresh)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var swapEntry = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));

        // Locked, referenced: check it is still the page of this entry (it may have been
        // taken back by another swap-in, or freed and reused, while we waited).
        if (!frames.TestFlag(pfn, PageFlags.SwapCache) || frames[pfn].Index != swapEntry.Value)
        {
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
            return -1;
        }

        Interleaving.Point();
        bool added;
        lock (inode.MappingLock)
        {
            added = inode.Pages.Get(index) == entry;
            if (added)
            {
                inode.Pages.Set(index, PageCacheTree.FrameEntry(pfn));
                ref var page = ref frames[pfn];
                page.Mapping = inode;
                page.Index = index;
                frames.ClearFlag(pfn, PageFlags.SwapCache);

                // The cache's reference becomes the page cache's; the slot is free again.
                memory.Swap.DeleteFromCache(swapEntry, pfn, SwapDevice.MapEntry | SwapDevice.MapCache);
            }
        }

        if (!added)
        {
            // Truncated meanwhile: if nothing refers to the slot any more, the page goes.
            if (memory.Swap.DropFromCacheIfUnreferenced(swapEntry, pfn))
            {
                frames.ClearFlag(pfn, PageFlags.SwapCache);
                memory.Lru.Remove(pfn);
                frames.UnlockPage(pfn);
                frames.PutPage(pfn);
            }
            else
            {
                frames.UnlockPage(pfn);
            }

            frames.PutPage(pfn);
            return -1;
        }

        inode.AddSwapped(-1);
        memory.ChargeShmem(1);
        frames.SetFlag(pfn, PageFlags.Dirty | PageFlags.Referenced);
        if (fresh)
        {
            memory.Lru.Add(pfn);
        }

        frames.UnlockPage(pfn);
        return pfn;
    }

    /// <summary>
    /// swap_cluster_readahead, narrowed to one file: reads the slot of <paramref name="first"/>
    /// and, in the same I/O, the slots after it that hold the following pages of the file (up
    /// to <paramref name="window"/> in all) into new frames, each placed in the swap cache
    /// first so that two swap-ins of one entry meet on one frame's page lock instead of
    /// reading twice; then each takes its entry's place in the page cache. Returns the frame
    /// for <paramref name="index"/> with a reference for the caller, or -1 when its entry went
    /// away (look again). A failed read or a checksum mismatch of that page is EIO, and the
    /// entry stays on swap; one of a following page only ends the run there.
    /// </summary>
    private static unsafe int ReadRun(Inode inode, long index, SwapEntry first, int window, bool allowReclaim)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var device = memory.Swap.Device(first.Type)!;
        var firstEntry = PageCacheTree.SwapEntry(first.Value);

        // The following pages of the file that sit in the following slots.
        var n = 1;
        if (window > 1)
        {
            lock (inode.MappingLock)
            {
                while (n < window && first.Offset + n < device.Slots &&
                       inode.Pages.Get(index + n) == PageCacheTree.SwapEntry(new SwapEntry(first.Type, first.Offset + n).Value))
                {
                    n++;
                }
            }
        }

        if (!allowReclaim && n > 1)
        {
            n = 1 + Math.Clamp(frames.FreeFrames - memory.Reclaim.Low, 0, n - 1);
        }

        Span<int> pfns = stackalloc int[MaxSwapInRun];
        n = memory.AllocateFrames(pfns[..n]);

        // swapcache_prepare for each slot. The first must become ours, or we wait for the
        // swap-in that got there first; the run ends at any other one already cached or gone.
        var claimed = 0;
        for (; claimed < n; claimed++)
        {
            var pfn = pfns[claimed];
            var entry = new SwapEntry(first.Type, first.Offset + claimed);
            frames.LockPage(pfn);
            frames[pfn].Index = entry.Value;
            frames.SetFlag(pfn, PageFlags.SwapCache);
            Interleaving.Point();
            var existing = memory.Swap.InsertForSwapIn(entry, pfn);
            if (existing == -1)
            {
                continue;
            }

            frames.ClearFlag(pfn, PageFlags.SwapCache);
            frames.UnlockPage(pfn);
            if (claimed == 0)
            {
                for (var k = 0; k < n; k++)
                {
                    frames.PutPage(pfns[k]);
                }

                if (existing < 0)
                {
                    return -1;
                }

                frames.LockPage(existing);
                return Install(inode, index, firstEntry, existing, fresh: false);
            }

            if (existing >= 0)
            {
                frames.PutPage(existing);
            }

            break;
        }

        for (var k = claimed; k < n; k++)
        {
            frames.PutPage(pfns[k]);
        }

        n = claimed;

        // The allocation's reference of each frame is the swap cache's; take the caller's.
        Span<nint> addresses = stackalloc nint[MaxSwapInRun];
        for (var k = 0; k < n; k++)
        {
            frames.GetPage(pfns[k]);
            addresses[k] = (nint)frames.Address(pfns[k]);
        }

        Interleaving.Point();
        var good = n;
        TmpfsException? error = null;
        try
        {
            device.ReadFrames(first.Offset, addresses[..n]);
            for (var k = 0; k < n; k++)
            {
                if (!device.Verify(first.Offset + k, frames.GetSpan(pfns[k])))
                {
                    good = k;
                    error = new TmpfsException(Errno.EIO, $"checksum mismatch on swap slot {first.Type}:{first.Offset + k}");
                    break;
                }
            }
        }
        catch (TmpfsException e)
        {
            good = 0;
            error = e;

            // One bad slot must not fail its neighbours: read the wanted page on its own.
            if (n > 1)
            {
                try
                {
                    device.ReadFrames(first.Offset, addresses[..1]);
                    if (device.Verify(first.Offset, frames.GetSpan(pfns[0])))
                    {
                        good = 1;
                    }
                }
                catch (TmpfsException)
                {
                    // The wanted page itself is unreadable: EIO for it.
                }
            }
        }

        // Pages that failed stay on swap: out of the swap cache, frames freed.
        for (var k = good; k < n; k++)
        {
            var entry = new SwapEntry(first.Type, first.Offset + k);
            memory.Swap.DeleteFromCache(entry, pfns[k], SwapDevice.MapCache);
            frames.ClearFlag(pfns[k], PageFlags.SwapCache);
            frames.UnlockPage(pfns[k]);
            frames.PutPage(pfns[k]);
            frames.PutPage(pfns[k]);
        }

        if (error is not null)
        {
            VmStat.Add(ref memory.Stat.SwapReadErrors);
            if (good == 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
        }

        VmStat.Add(ref memory.Stat.PswpIn, good);
        var result = -1;
        for (var k = 0; k < good; k++)
        {
            frames.SetFlag(pfns[k], PageFlags.Uptodate);
            var pfn = Install(inode, index + k, PageCacheTree.SwapEntry(new SwapEntry(first.Type, first.Offset + k).Value), pfns[k], fresh: true);
            if (k == 0)
            {
                result = pfn;
            }
            else if (pfn >= 0)
            {
                frames.PutPage(pfn);
            }
        }

        Volatile.Write(ref inode.SwapReadaheadNext, index + good);
        inode.SwapReadaheadWindow = window;
        return result;
    }
}
