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
    private const int ReadaheadPages = 8;

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
        var slot = memory.Swap.AllocateSlot();
        if (slot is not { } entry)
        {
            return false; // swap full: redirty and keep
        }

        var device = memory.Swap.Device(entry.Type)!;

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
    public static int SwapIn(Inode inode, long index, long entry) => SwapIn(inode, index, entry, readahead: true);

    /// <summary>
    /// free_swap_and_cache for an entry truncation has just erased from the page cache:
    /// the slot loses the entry's hold, and a page caching it leaves the swap cache.
    /// </summary>
    public static void FreeSwapEntry(Inode inode, SwapEntry entry)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
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
        lock (inode)
        {
            if (inode.Evicted)
            {
                return;
            }

            long index = 0;
            while (true)
            {
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

                var pfn = SwapIn(inode, at, entry, readahead: false);
                if (pfn >= 0)
                {
                    inode.Sb.Frames.PutPage(pfn);
                    index = at + 1;
                }
            }
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

    private static int SwapIn(Inode inode, long index, long entry, bool readahead)
    {
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var swapEntry = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));
        var fresh = false;
        var pfn = memory.Swap.LookupCache(swapEntry);
        if (pfn >= 0)
        {
            frames.LockPage(pfn);
        }
        else
        {
            pfn = ReadFromDevice(inode, swapEntry, out fresh);
            if (pfn < 0)
            {
                return -1;
            }
        }

        // Locked, referenced: check it is still the page of this entry (it may have been
        // taken back by another swap-in, or freed and reused, while we waited).
        if (!frames.TestFlag(pfn, PageFlags.SwapCache) || frames[pfn].Index != swapEntry.Value)
        {
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
            return -1;
        }

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
        if (fresh && readahead)
        {
            Readahead(inode, index, swapEntry);
        }

        return pfn;
    }

    /// <summary>
    /// Reads a slot into a new frame placed in the swap cache first, so that two swap-ins
    /// of one entry meet on one frame's page lock instead of reading twice. Returns the
    /// frame locked with a reference for the caller, or -1 when the entry went away.
    /// </summary>
    private static int ReadFromDevice(Inode inode, SwapEntry entry, out bool fresh)
    {
        fresh = false;
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var device = memory.Swap.Device(entry.Type)!;
        var pfn = memory.AllocateFrame(willOverwrite: true);
        frames.LockPage(pfn);
        frames[pfn].Index = entry.Value;
        frames.SetFlag(pfn, PageFlags.SwapCache);
        var existing = memory.Swap.InsertForSwapIn(entry, pfn);
        if (existing != -1)
        {
            frames.ClearFlag(pfn, PageFlags.SwapCache);
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
            if (existing < 0)
            {
                return -1;
            }

            frames.LockPage(existing);
            return existing;
        }

        frames.GetPage(pfn); // the allocation's reference is the cache's; this one is the caller's
        try
        {
            device.Read(entry.Offset, frames.GetSpan(pfn));
        }
        catch (TmpfsException)
        {
            VmStat.Add(ref memory.Stat.SwapReadErrors);
            memory.Swap.DeleteFromCache(entry, pfn, SwapDevice.MapCache);
            frames.ClearFlag(pfn, PageFlags.SwapCache);
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
            frames.PutPage(pfn);
            throw;
        }

        frames.SetFlag(pfn, PageFlags.Uptodate);
        VmStat.Add(ref memory.Stat.PswpIn);
        fresh = true;
        return pfn;
    }

    /// <summary>
    /// swap_cluster_readahead, narrowed to one file: the following pages of the same file
    /// that sit in the following slots of the same device come back too, while memory is
    /// above the low watermark.
    /// </summary>
    private static void Readahead(Inode inode, long index, SwapEntry entry)
    {
        var memory = inode.Sb.Memory;
        for (var k = 1; k <= ReadaheadPages; k++)
        {
            long next;
            lock (inode.MappingLock)
            {
                next = inode.Pages.Get(index + k);
            }

            if (!PageCacheTree.IsSwap(next) || PageCacheTree.ToSwap(next) != new SwapEntry(entry.Type, entry.Offset + k).Value)
            {
                return;
            }

            if (memory.Frames.FreeFrames <= memory.Reclaim.Low)
            {
                return; // readahead never pushes memory into reclaim
            }

            try
            {
                var pfn = SwapIn(inode, index + k, next, readahead: false);
                if (pfn >= 0)
                {
                    memory.Frames.PutPage(pfn);
                }
            }
            catch (TmpfsException)
            {
                return; // the real access will report it
            }
        }
    }
}
