using System.Diagnostics;
using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Systematic;

/// <summary>
/// Deliberately broken variants of the engine's swap machinery, each one of the kernel's
/// historical races re-introduced, kept here so that each systematic test can show it
/// catches its bug. They use the same scheduling points as the engine code they replace.
/// </summary>
internal static class BrokenVariants
{
    /// <summary>
    /// shmem_writepage before the seed (b1dea800ac39): the page leaves the page cache and is
    /// written (swap_writepage unlocks it) first; only afterwards does the inode join the
    /// swaplist, pinned meanwhile by igrab, a reference count, which unmount ignores. Once
    /// the page is a swap entry its lock no longer pins the inode, so unmount can evict
    /// the inode in between, and the late list_move_tail links an evicted inode of an
    /// unmounted mount onto the swaplist.
    /// </summary>
    public static bool WritePageOldOrder(Inode inode, int pfn, SwapWriteBatch io)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        if (inode.Sb.NoSwap || io.TakeSlot() is not { } entry)
        {
            return false;
        }

        var index = frames[pfn].Index;
        var device = memory.Swap.Device(entry.Type)!;
        Interleaving.Point();
        if (!ShmemSwap.MoveToSwapCache(inode, pfn, index, entry))
        {
            device.Release(entry.Offset, SwapDevice.MapEntry | SwapDevice.MapCache);
            return false;
        }

        Interlocked.Increment(ref inode.Swap.Swapped); // shmem_swp_set + swapped++ under info->lock

        // if (list_empty(&info->swaplist)) inode = igrab(inode);
        var pinned = !inode.OnSwaplist;
        if (pinned)
        {
            Interlocked.Increment(ref inode.OpenCount);
        }

        // swap_writepage: the write, and the page is unlocked; reclaim's end of the write
        // (free the clean swap-cache page, or put it back) is done here, so nothing is queued.
        Interleaving.Point();
        device.Write(entry.Offset, frames.GetSpan(pfn));
        FinishWrite(memory, pfn, entry);

        if (pinned)
        {
            Interleaving.Point();
            lock (memory.Swaplist.ListLock)
            {
                memory.Swaplist.MoveTail(inode); // "move instead of add in case we're racing"
            }

            Interlocked.Decrement(ref inode.OpenCount); // iput
        }

        return true;
    }

    /// <summary>
    /// The race 05bf86b4ccfd fixed: writepage peeks at list membership without the swaplist
    /// lock and raises swapped outside it. Swapoff can prune the inode (swapped == 0 under the
    /// lock) between the peek and the increment, and the inode ends with swapped pages but
    /// off the list: swapoff never finds them (it spins, or leaves slots in use).
    /// </summary>
    public static bool WritePageUnlockedPeek(Inode inode, int pfn, SwapWriteBatch io)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        if (inode.Sb.NoSwap || io.TakeSlot() is not { } entry)
        {
            return false;
        }

        var index = frames[pfn].Index;
        var device = memory.Swap.Device(entry.Type)!;
        Interleaving.Point();
        if (!inode.OnSwaplist)
        {
            lock (memory.Swaplist.ListLock)
            {
                memory.Swaplist.MoveTail(inode);
            }
        }

        Interleaving.Point();
        Interlocked.Increment(ref inode.Swap.Swapped);
        Interleaving.Point();
        if (!ShmemSwap.MoveToSwapCache(inode, pfn, index, entry))
        {
            Interlocked.Decrement(ref inode.Swap.Swapped);
            device.Release(entry.Offset, SwapDevice.MapEntry | SwapDevice.MapCache);
            return false;
        }

        io.Add(device, entry, pfn, inode, index);
        return true;
    }

    /// <summary>
    /// find_get_page with a swap-in that installs the page without re-checking, under the
    /// mapping lock, that the entry it read is still the one at the index: a truncation or
    /// hole punch that freed the entry meanwhile gets its data back (and the slot is
    /// released twice). Otherwise the engine's ShmemSwap.SwapIn, step by step.
    /// </summary>
    public static int FindGetPageNoRecheck(Inode inode, long index)
    {
        while (true)
        {
            long entry;
            using (inode.MappingLock.Hold())
            {
                entry = inode.Pages.Get(index);
                if (PageCacheTree.IsFrame(entry))
                {
                    var resident = PageCacheTree.ToFrame(entry);
                    inode.Sb.Frames.GetPage(resident);
                    return resident;
                }
            }

            if (entry == 0)
            {
                return -1;
            }

            var pfn = SwapInNoRecheck(inode, index, entry);
            if (pfn >= 0)
            {
                return pfn;
            }
        }
    }

    private static int SwapInNoRecheck(Inode inode, long index, long entry)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var swapEntry = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));
        var fresh = false;
        Interleaving.Point();
        var pfn = memory.Swap.LookupCache(swapEntry);
        if (pfn >= 0)
        {
            frames.LockPage(pfn);
        }
        else
        {
            pfn = memory.AllocateFrame(willOverwrite: true);
            frames.LockPage(pfn);
            frames[pfn].Index = swapEntry.Value;
            frames.SetFlag(pfn, PageFlags.SwapCache);
            Interleaving.Point();
            var existing = memory.Swap.InsertForSwapIn(swapEntry, pfn);
            if (existing != -1)
            {
                frames.ClearFlag(pfn, PageFlags.SwapCache);
                frames.UnlockPage(pfn);
                frames.PutPage(pfn);
                if (existing < 0)
                {
                    return -1;
                }

                pfn = existing;
                frames.LockPage(pfn);
            }
            else
            {
                frames.GetPage(pfn);
                Interleaving.Point();
                memory.Swap.Device(swapEntry.Type)!.Read(swapEntry.Offset, frames.GetSpan(pfn));
                frames.SetFlag(pfn, PageFlags.Uptodate);
                fresh = true;
            }
        }

        if (!frames.TestFlag(pfn, PageFlags.SwapCache) || frames[pfn].Index != swapEntry.Value)
        {
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
            return -1;
        }

        Interleaving.Point();
        using (inode.MappingLock.Hold())
        {
            // The bug: no "inode.Pages.Get(index) == entry" check before installing.
            inode.Pages.Set(index, PageCacheTree.FrameEntry(pfn));
            ref var page = ref frames[pfn];
            page.Mapping = inode;
            page.Index = index;
            frames.ClearFlag(pfn, PageFlags.SwapCache);
            memory.Swap.DeleteFromCache(swapEntry, pfn, SwapDevice.MapEntry | SwapDevice.MapCache);
        }

        Interlocked.Decrement(ref inode.Swap.Swapped);
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
    /// shmem_unuse before 778dd893ae78 and before "stop eviction without igrab": the inode
    /// is held by igrab (a reference count, which unmount ignores) instead of stop_eviction
    /// while the list lock is dropped, and afterwards the search is rotated to go on from
    /// that inode (list_move_tail through its links). If unmount evicted the inode meanwhile
    /// (eviction does not wait: nothing told it to), that links the evicted inode back as
    /// the whole swaplist, and the inodes of other mounts with pages on swap are lost to
    /// swapoff, which then never empties the device.
    /// </summary>
    public static void UnuseWithIgrab(MemoryManager memory, int type)
    {
        var list = memory.Swaplist;
        var found = true;
        while (found)
        {
            // One shmem_unuse call per pass, each walking the list from its head.
            found = false;
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

                    Interlocked.Increment(ref inode.OpenCount); // igrab
                    Monitor.Exit(list.ListLock);
                    try
                    {
                        Interleaving.Point();
                        ShmemSwap.UnuseInode(inode, type);
                    }
                    finally
                    {
                        Interleaving.Point();
                        Monitor.Enter(list.ListLock);
                    }

                    MoveHeadTo(list, inode);
                    Interlocked.Decrement(ref inode.OpenCount); // iput
                    found = true;
                    break;
                }
            }
            finally
            {
                Monitor.Exit(list.ListLock);
            }
        }
    }

    /// <summary>
    /// "Move head to start search for next from here": list_move_tail(&amp;shmem_swaplist,
    /// &amp;info->swaplist). With the inode still listed this rotates the list so that it comes
    /// first. With the inode already taken off by eviction (list_del_init: its links point
    /// at itself) the head moves into that one-entry ring: the evicted inode is the whole
    /// list, and every other inode is lost to swapoff.
    /// </summary>
    private static void MoveHeadTo(Swaplist list, Inode inode)
    {
        if (!inode.OnSwaplist)
        {
            while (list.First is { } other)
            {
                list.Remove(other);
            }

            list.MoveTail(inode);
            return;
        }

        while (list.First != inode)
        {
            list.MoveTail(list.First!);
        }
    }

    /// <summary>Reclaim's end of a written page (Reclaim.TryFreeSwapCachePage).</summary>
    private static void FinishWrite(MemoryManager memory, int pfn, SwapEntry entry)
    {
        var frames = memory.Frames;
        if (memory.Swap.TryRemoveFromCacheFrozen(entry, pfn, callerRefs: 1))
        {
            frames.ClearFlag(pfn, PageFlags.SwapCache | PageFlags.Locked | PageFlags.Dirty | PageFlags.Referenced);
            Debug.Assert(!frames.TestFlag(pfn, PageFlags.Waiters), "a frozen page has no waiters");
            frames.Free(pfn);
            return;
        }

        frames.UnlockPage(pfn);
        memory.Lru.Putback(pfn, activate: false);
        frames.PutPage(pfn);
    }
}
