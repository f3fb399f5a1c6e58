using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>fallocate without PUNCH_HOLE (shmem_fallocate): zeroed pages reserved over a range, undone on ENOSPC.</summary>
internal static partial class PageCache
{
    /// <summary>
    /// shmem_fallocate without PUNCH_HOLE: allocates zeroed pages over [start, end), undoing
    /// the ones it added when space runs out, then ENOSPC. Swapped pages count as allocated.
    /// </summary>
    public static void Allocate(Inode inode, long start, long end)
    {
        var sb = inode.Sb;
        var first = start >> PageShift;
        var last = (end - 1) >> PageShift;
        if (sb.MaxBlocks != 0 && last - first + 1 > sb.MaxBlocks)
        {
            TmpfsException.Throw(Errno.ENOSPC, "fallocate larger than the mount (size)");
        }

        var added = new List<long>();
        Span<int> one = stackalloc int[1];
        for (var index = first; index <= last; index++)
        {
            long entry;
            using (inode.MappingLock.Hold())
            {
                entry = inode.Pages.Get(index);
            }

            if (PageCacheTree.IsSwap(entry))
            {
                // shmem_get_folio(SGP_FALLOC) swaps a swapped page back in.
                int swapped;
                try
                {
                    swapped = FindGetPage(inode, index);
                }
                catch (TmpfsException)
                {
                    UndoAllocated(inode, added);
                    throw;
                }

                if (swapped >= 0)
                {
                    sb.Frames.PutPage(swapped);
                }

                continue;
            }

            if (entry != 0)
            {
                // shmem_get_folio(SGP_FALLOC) on a page fallocated earlier "must initialize it
                // now, lest undo on failure cancel our earlier guarantee": it becomes Uptodate,
                // so SEEK_DATA reports it as data from now on.
                if (PageCacheTree.IsFrame(entry))
                {
                    MarkFallocatedUptodate(inode, index, entry);
                }

                continue;
            }

            try
            {
                AllocateRun(inode, index, 0, 0, one);
                AddToPageCache(inode, index, one); // on failure it has freed the frame itself
            }
            catch
            {
                UndoAllocated(inode, added);
                throw;
            }

            sb.Memory.Lru.Add(one[0]);
            sb.Frames.PutPage(one[0]);
            added.Add(index);
        }
    }

    /// <summary>
    /// Marks a resident page Uptodate under its page lock, if it is still the page at
    /// <paramref name="index"/> (reclaim may have moved it meanwhile; then it was written
    /// out Uptodate anyway). The page is zero: a fallocated page has not been written.
    /// </summary>
    private static void MarkFallocatedUptodate(Inode inode, long index, long entry)
    {
        var frames = inode.Sb.Frames;
        var pfn = PageCacheTree.ToFrame(entry);
        using (inode.MappingLock.Hold())
        {
            if (inode.Pages.Get(index) != entry)
            {
                return;
            }

            frames.GetPage(pfn);
        }

        frames.LockPage(pfn);
        try
        {
            bool mapped;
            using (inode.MappingLock.Hold())
            {
                mapped = inode.Pages.Get(index) == entry;
            }

            if (mapped && !frames.TestFlag(pfn, PageFlags.Uptodate))
            {
                frames.SetFlag(pfn, PageFlags.Uptodate);
            }
        }
        finally
        {
            frames.UnlockPage(pfn);
            frames.PutPage(pfn);
        }
    }

    /// <summary>shmem_fallocate's "undone:": frees only the pages this call added.</summary>
    private static void UndoAllocated(Inode inode, List<long> added)
    {
        foreach (var i in added)
        {
            FreeRange(inode, i, i + 1);
        }
    }
}
