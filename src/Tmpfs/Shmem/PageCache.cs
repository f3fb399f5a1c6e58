using System.Diagnostics;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// The data path of a tmpfs file over its page cache: shmem_get_folio (find or
/// allocate), read and write, truncation (shmem_undo_range), fallocate and
/// SEEK_DATA/SEEK_HOLE. Callers hold the inode's lock (i_rwsem).
/// </summary>
internal static class PageCache
{
    public const long MaxFileSize = long.MaxValue; // MAX_LFS_FILESIZE on 64-bit
    private const int PageSize = PageFrames.PageSize;
    private const int PageShift = PageFrames.PageShift;

    /// <summary>
    /// shmem_file_read_iter: copies from <paramref name="offset"/> up to EOF. Holes and
    /// pages not yet written (fallocated, !Uptodate) read as zeros.
    /// </summary>
    public static int Read(Inode inode, long offset, Span<byte> destination)
    {
        var size = inode.Size;
        if (offset >= size || destination.IsEmpty)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, size - offset);
        var frames = inode.Sb.Frames;
        var done = 0;
        while (done < count)
        {
            var pos = offset + done;
            var index = pos >> PageShift;
            var inPage = (int)(pos & (PageSize - 1));
            var chunk = Math.Min(PageSize - inPage, count - done);
            var entry = inode.Pages.Get(index);
            var target = destination.Slice(done, chunk);
            if (PageCacheTree.IsFrame(entry) && frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Uptodate))
            {
                var pfn = PageCacheTree.ToFrame(entry);
                frames.GetSpan(pfn).Slice(inPage, chunk).CopyTo(target);
                frames.SetFlag(pfn, PageFlags.Referenced);
            }
            else
            {
                target.Clear();
            }

            done += chunk;
        }

        return done;
    }

    /// <summary>
    /// generic_perform_write over shmem_write_begin/end: copies page by page, allocating
    /// pages for holes. A failure after some bytes were written returns the short count,
    /// as write(2) does; a failure before any is thrown (ENOSPC, EFBIG).
    /// </summary>
    public static int Write(Inode inode, long offset, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
        {
            return 0;
        }

        if (offset >= MaxFileSize)
        {
            TmpfsException.Throw(Errno.EFBIG, "write beyond the maximum file size");
        }

        var count = (int)Math.Min(source.Length, MaxFileSize - offset);
        var frames = inode.Sb.Frames;
        var done = 0;
        while (done < count)
        {
            var pos = offset + done;
            var index = pos >> PageShift;
            var inPage = (int)(pos & (PageSize - 1));
            var chunk = Math.Min(PageSize - inPage, count - done);
            var entry = inode.Pages.Get(index);
            if (entry == 0)
            {
                // A hole: allocate it and the holes after it that this write covers, in one batch.
                try
                {
                    AllocateRun(inode, index, pos, offset + count);
                }
                catch (TmpfsException) when (done > 0)
                {
                    break;
                }

                entry = inode.Pages.Get(index);
            }

            Debug.Assert(PageCacheTree.IsFrame(entry), "swap entries arrive with the swap layer");
            var pfn = PageCacheTree.ToFrame(entry);
            source.Slice(done, chunk).CopyTo(frames.GetSpan(pfn).Slice(inPage, chunk));
            const PageFlags written = PageFlags.Uptodate | PageFlags.Dirty | PageFlags.Referenced;
            if ((frames[pfn].Flags & (int)written) != (int)written)
            {
                frames.SetFlag(pfn, written);
            }

            done += chunk;
            if (pos + chunk > inode.Size)
            {
                inode.Size = pos + chunk;
            }
        }

        return done;
    }

    /// <summary>
    /// shmem_get_folio(SGP_WRITE): the frame at <paramref name="index"/>, allocated (and
    /// charged to size= and the budget) when the index is a hole. A new frame is zeroed
    /// unless the caller overwrites all of it.
    /// </summary>
    public static int GetPage(Inode inode, long index, bool willOverwrite)
    {
        var entry = inode.Pages.Get(index);
        if (PageCacheTree.IsFrame(entry))
        {
            var existing = PageCacheTree.ToFrame(entry);
            if (!willOverwrite && !inode.Sb.Frames.TestFlag(existing, PageFlags.Uptodate))
            {
                // A fallocated page is already zero; it becomes data once written.
                Debug.Assert(inode.Sb.Frames.GetSpan(existing).IndexOfAnyExcept((byte)0) < 0, "fallocated page not zero");
            }

            return existing;
        }

        Debug.Assert(entry == 0, "swap entries arrive with the swap layer");
        return AllocatePage(inode, index, willOverwrite);
    }

    /// <summary>
    /// Allocates the hole at <paramref name="index"/> and the consecutive holes after it
    /// up to the end of the write [<paramref name="writeStart"/>, <paramref name="writeEnd"/>),
    /// at most 64 at a time, charging blocks and taking frames in one step each. Pages the
    /// write covers wholly are not zeroed; the partial first and last ones are.
    /// </summary>
    private static void AllocateRun(Inode inode, long index, long writeStart, long writeEnd)
    {
        var sb = inode.Sb;
        var lastIndex = (writeEnd - 1) >> PageShift;
        var want = (int)Math.Min(64, lastIndex - index + 1);
        var run = 1;
        while (run < want && inode.Pages.Get(index + run) == 0)
        {
            run++;
        }

        // Charge what size= allows; at least one page or ENOSPC.
        while (!sb.TryChargeBlocks(run))
        {
            if (run == 1)
            {
                TmpfsException.Throw(Errno.ENOSPC, "no space left on the mount (size)");
            }

            run = 1;
        }

        Span<int> pfns = stackalloc int[64];
        var got = sb.Frames.AllocateBatch(pfns[..run]);
        if (got < run)
        {
            sb.UnchargeBlocks(run - got);
            if (got == 0)
            {
                TmpfsException.Throw(Errno.ENOSPC, "no free page in the memory budget");
            }
        }

        var frames = sb.Frames;
        for (var i = 0; i < got; i++)
        {
            var pageStart = (index + i) << PageShift;
            var covered = writeStart <= pageStart && writeEnd >= pageStart + PageSize;
            if (!covered)
            {
                frames.GetSpan(pfns[i]).Clear();
            }

            ref var page = ref frames[pfns[i]];
            page.Mapping = inode;
            page.Index = index + i;
        }

        lock (inode.MappingLock)
        {
            for (var i = 0; i < got; i++)
            {
                inode.Pages.Set(index + i, PageCacheTree.FrameEntry(pfns[i]));
            }
        }

        inode.Alloced += got;
        sb.Memory.ChargeShmem(got);
    }

    private static int AllocatePage(Inode inode, long index, bool willOverwrite)
    {
        var sb = inode.Sb;
        if (!sb.TryChargeBlocks(1))
        {
            TmpfsException.Throw(Errno.ENOSPC, "no space left on the mount (size)");
        }

        var pfn = sb.Frames.Allocate(willOverwrite);
        if (pfn < 0)
        {
            sb.UnchargeBlocks(1);
            TmpfsException.Throw(Errno.ENOSPC, "no free page in the memory budget");
        }

        ref var page = ref sb.Frames[pfn];
        page.Mapping = inode;
        page.Index = index;
        lock (inode.MappingLock)
        {
            inode.Pages.Set(index, PageCacheTree.FrameEntry(pfn));
        }

        inode.Alloced++;
        sb.Memory.ChargeShmem(1);
        return pfn;
    }

    /// <summary>
    /// shmem_undo_range for truncation to <paramref name="newSize"/>: frees every page
    /// wholly past the new end and zeroes the tail of the page it cuts. Each page is
    /// locked while it leaves the mapping, so eviction waits for reclaim holding it.
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
    /// shmem_truncate_range for a punched hole [start, end): whole pages are freed,
    /// the partial pages at either edge are zeroed where the range covers them.
    /// </summary>
    public static void PunchHole(Inode inode, long start, long end)
    {
        var firstWhole = (start + PageSize - 1) >> PageShift;
        var endWhole = end >> PageShift; // exclusive
        var startIndex = start >> PageShift;
        var lastIndex = (end - 1) >> PageShift;
        if (startIndex == lastIndex && (start & (PageSize - 1)) != 0 | (end & (PageSize - 1)) != 0)
        {
            ZeroRange(inode, startIndex, (int)(start & (PageSize - 1)), (int)(((end - 1) & (PageSize - 1)) + 1));
            return;
        }

        if ((start & (PageSize - 1)) != 0)
        {
            ZeroRange(inode, startIndex, (int)(start & (PageSize - 1)), PageSize);
        }

        if ((end & (PageSize - 1)) != 0)
        {
            ZeroRange(inode, lastIndex, 0, (int)(end & (PageSize - 1)));
        }

        if (endWhole > firstWhole)
        {
            FreeRange(inode, firstWhole, endWhole);
        }
    }

    /// <summary>
    /// shmem_fallocate without PUNCH_HOLE: allocates zeroed pages over [start, end),
    /// undoing the ones it added when space runs out, then ENOSPC.
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

        for (var index = first; index <= last; index++)
        {
            if (inode.Pages.Get(index) != 0)
            {
                continue;
            }

            try
            {
                AllocatePage(inode, index, willOverwrite: false);
            }
            catch (TmpfsException)
            {
                // shmem_fallocate "undone:" frees only pages this call added, which are still !Uptodate.
                UndoFallocated(inode, first, index);
                throw;
            }
        }
    }

    /// <summary>mapping_seek_hole_data: SEEK_DATA or SEEK_HOLE from <paramref name="offset"/>.</summary>
    public static long SeekHoleData(Inode inode, long offset, bool data)
    {
        var size = inode.Size;
        if (offset < 0 || offset >= size)
        {
            TmpfsException.Throw(Errno.ENXIO, "offset is at or past the end of the file");
        }

        var frames = inode.Sb.Frames;
        var endIndex = (size + PageSize - 1) >> PageShift;
        var index = offset >> PageShift;
        while (index < endIndex)
        {
            var isData = false;
            if (inode.Pages.NextPresent(index, endIndex, out var found, out var entry))
            {
                if (found == index)
                {
                    isData = !PageCacheTree.IsFrame(entry) || frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Uptodate);
                }
                else if (!data)
                {
                    return Math.Max(offset, index << PageShift); // a hole before the next page
                }
                else
                {
                    index = found;
                    continue;
                }
            }
            else if (!data)
            {
                return Math.Max(offset, index << PageShift);
            }
            else
            {
                break;
            }

            if (isData == data)
            {
                return Math.Min(size, Math.Max(offset, index << PageShift));
            }

            index++;
        }

        if (data)
        {
            TmpfsException.Throw(Errno.ENXIO, "no data past the offset");
        }

        return size;
    }

    private static void ZeroRange(Inode inode, long index, int from, int to)
    {
        var entry = inode.Pages.Get(index);
        if (!PageCacheTree.IsFrame(entry))
        {
            return;
        }

        var frames = inode.Sb.Frames;
        var pfn = PageCacheTree.ToFrame(entry);
        frames.LockPage(pfn);
        try
        {
            frames.GetSpan(pfn)[from..to].Clear();
        }
        finally
        {
            frames.UnlockPage(pfn);
        }
    }

    private static void FreeRange(Inode inode, long first, long end)
    {
        var sb = inode.Sb;
        var frames = sb.Frames;
        long freed = 0;
        var index = first;
        while (inode.Pages.NextPresent(index, end, out var found, out var entry))
        {
            index = found + 1;
            if (PageCacheTree.IsFrame(entry))
            {
                var pfn = PageCacheTree.ToFrame(entry);
                frames.LockPage(pfn);
                lock (inode.MappingLock)
                {
                    inode.Pages.Set(found, 0);
                }

                frames.UnlockPage(pfn);
                frames.Free(pfn);
                freed++;
            }
        }

        if (freed > 0)
        {
            inode.Alloced -= freed;
            sb.UnchargeBlocks(freed);
            sb.Memory.UnchargeShmem(freed);
        }
    }

    private static void UndoFallocated(Inode inode, long first, long end)
    {
        var frames = inode.Sb.Frames;
        var index = first;
        while (inode.Pages.NextPresent(index, end, out var found, out var entry))
        {
            index = found + 1;
            if (PageCacheTree.IsFrame(entry) && !frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Uptodate))
            {
                FreeRange(inode, found, found + 1);
            }
        }
    }
}
