using System.Diagnostics;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// The swap side of tmpfs (mm/shmem.c): writepage (a page cache page becomes a swap
/// entry) and freeing swap entries on truncation here; swap-in (a swap entry becomes a
/// page again, with readahead) in ShmemSwapIn.cs; unuse (swapoff bringing a device's pages
/// back) in ShmemUnuse.cs.
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
internal static partial class ShmemSwap
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
        using (inode.MappingLock.Hold())
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
        using (inode.MappingLock.Hold())
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
}
