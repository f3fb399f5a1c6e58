using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>Swap-in (shmem_swapin_folio) with readahead of the following slots.</summary>
internal static partial class ShmemSwap
{
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
        var state = inode.Swap; // a swap-in: the inode has pages on swap, so it has one
        var sequential = Volatile.Read(ref state.ReadaheadNext) == index;
        var window = sequential ? Math.Clamp(state.ReadaheadWindow * 2, ReadaheadPages, MaxRun(inode)) : ReadaheadPages;
        return SwapIn(inode, index, entry, window, sequential);
    }

    /// <summary>The longest run for this budget: 4 MiB, but no more than a reclaim pass takes.</summary>
    private static int MaxRun(Inode inode) => Math.Clamp(inode.Sb.Memory.Reclaim.PassPages, ReadaheadPages, MaxSwapInRun);


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
        using (inode.MappingLock.Hold())
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
            using (inode.MappingLock.Hold())
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
        try
        {
            n = memory.AllocateFrames(pfns[..n]);
        }
        catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
        {
            // shmem_swapin_folio: no page to read into is -ENOMEM, whatever the caller (a
            // read, a write, swapoff); ENOSPC is for space a file is refused. The entry stays.
            TmpfsException.Throw(Errno.ENOMEM, $"no free page to swap in slot {first.Type}:{first.Offset}: memory and swap are full");
        }

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

        Volatile.Write(ref inode.Swap.ReadaheadNext, index + good);
        inode.Swap.ReadaheadWindow = window;
        return result;
    }
}
