using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>Truncation and punched holes (shmem_undo_range): pages and swap entries freed, partial pages zeroed.</summary>
internal static partial class PageCache
{
    /// <summary>
    /// shmem_undo_range for truncation to <paramref name="newSize"/>: frees every page and
    /// swap entry wholly past the new end and zeroes the tail of the page it cuts.
    /// </summary>
    public static void TruncatePages(Inode inode, long newSize)
    {
        var partial = (int)(newSize & (PageSize - 1));
        var firstWhole = (newSize + PageSize - 1) >> PageShift;
        if (partial != 0)
        {
            ZeroRange(inode, newSize >> PageShift, partial, PageSize);
        }

        FreeRange(inode, firstWhole, long.MaxValue);
    }

    /// <summary>
    /// shmem_truncate_range for a punched hole [start, end): whole pages are freed, the
    /// partial pages at either edge are zeroed where the range covers them.
    /// </summary>
    public static void PunchHole(Inode inode, long start, long end)
    {
        var startIndex = start >> PageShift;
        var lastIndex = (end - 1) >> PageShift;
        var startInPage = (int)(start & (PageSize - 1));
        var endInPage = (int)(end & (PageSize - 1));
        if (startIndex == lastIndex && (startInPage != 0 || endInPage != 0))
        {
            ZeroRange(inode, startIndex, startInPage, endInPage == 0 ? PageSize : endInPage);
            return;
        }

        if (startInPage != 0)
        {
            ZeroRange(inode, startIndex, startInPage, PageSize);
        }

        if (endInPage != 0)
        {
            ZeroRange(inode, lastIndex, 0, endInPage);
        }

        var firstWhole = (start + PageSize - 1) >> PageShift;
        var endWhole = end >> PageShift;
        if (endWhole > firstWhole)
        {
            FreeRange(inode, firstWhole, endWhole);
        }
    }

    private static void ZeroRange(Inode inode, long index, int from, int to)
    {
        long entry;
        using (inode.MappingLock.Hold())
        {
            entry = inode.Pages.Get(index);
        }

        if (entry == 0)
        {
            return;
        }

        // shmem_undo_range zeroes a partial page even when it is on swap: bring it in.
        var pfn = FindGetPage(inode, index);
        if (pfn < 0)
        {
            return;
        }

        var frames = inode.Sb.Frames;
        frames.GetSpan(pfn)[from..to].Clear();
        frames.PutPage(pfn);
    }

    /// <summary>
    /// Frees the pages and swap entries at indices [first, end). Each resident page is
    /// locked while it leaves the mapping, so eviction waits for reclaim holding it; a swap
    /// entry's slot is released and its swap-cache page, if any, freed.
    /// </summary>
    private static void FreeRange(Inode inode, long first, long end)
    {
        var sb = inode.Sb;
        var memory = sb.Memory;
        var frames = sb.Frames;
        long freed = 0, resident = 0;
        var index = first;
        while (true)
        {
            Interleaving.Point();
            long found, entry;
            int pfn = -1;
            using (inode.MappingLock.Hold())
            {
                if (!inode.Pages.NextPresent(index, end, out found, out entry))
                {
                    break;
                }

                if (PageCacheTree.IsFrame(entry))
                {
                    pfn = PageCacheTree.ToFrame(entry);
                    frames.GetPage(pfn);
                }
                else
                {
                    inode.Pages.Set(found, 0);
                }
            }

            if (pfn < 0)
            {
                ShmemSwap.FreeSwapEntry(inode, SwapEntry.FromValue(PageCacheTree.ToSwap(entry)));
                freed++;
                index = found + 1;
                continue;
            }

            frames.LockPage(pfn);
            bool removed;
            using (inode.MappingLock.Hold())
            {
                removed = inode.Pages.Get(found) == entry;
                if (removed)
                {
                    inode.Pages.Set(found, 0);
                    frames[pfn].Mapping = null;
                }
            }

            if (!removed)
            {
                // Reclaim moved it to swap while we waited for the lock: look again.
                frames.UnlockPage(pfn);
                frames.PutPage(pfn);
                index = found;
                continue;
            }

            memory.Lru.Remove(pfn);
            frames.ClearFlag(pfn, PageFlags.Dirty | PageFlags.Uptodate | PageFlags.Referenced);
            frames.UnlockPage(pfn);
            frames.PutPage(pfn); // ours
            frames.PutPage(pfn); // the page cache's; reclaim may still hold one and free it last
            freed++;
            resident++;
            index = found + 1;
        }

        if (freed > 0)
        {
            inode.Alloced -= freed;
            sb.UnchargeBlocks(freed);
            memory.UnchargeShmem(resident);
        }
    }
}
