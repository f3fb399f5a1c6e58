using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// Reads without a copy, for a front end that sends the bytes itself (the FUSE READ reply
/// is written with writev straight from the frames): the pages of a range with a reference
/// each, as filemap_get_pages hands folios to splice_read. Callers hold the inode's lock for
/// the lookup only; the references keep the frames (reclaim moves a page to swap only when
/// nobody but the page cache and itself holds it, and a truncated page is freed at the last
/// put), so the data may be sent after the lock is dropped. Like the kernel's tmpfs read,
/// which copies without i_rwsem, a write racing with the send may be seen in part.
/// </summary>
internal static class PageCacheSpans
{
    private const int PageShift = PageFrames.PageShift;
    private const int PageSize = PageFrames.PageSize;
    private const int Gang = 64;

    /// <summary>
    /// The frames of [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>)
    /// up to EOF into <paramref name="pfns"/> (one per page touched, which must fit), each with
    /// a reference, or -1 for a page that reads as zeros (a hole, or fallocated and not yet
    /// written). Swapped pages are swapped in. Returns the bytes covered: short at EOF, or
    /// when a swap-in failed after some pages (EIO before any is thrown), as read(2).
    /// </summary>
    public static int GetPages(Inode inode, long offset, int count, Span<int> pfns, out int pages)
    {
        pages = 0;
        var size = inode.Size;
        if (offset >= size || count <= 0)
        {
            return 0;
        }

        count = (int)Math.Min(count, size - offset);
        var first = offset >> PageShift;
        var n = (int)(((offset + count - 1) >> PageShift) - first + 1);
        if (n > pfns.Length)
        {
            throw new ArgumentException("page array too short for the range", nameof(pfns));
        }

        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        Span<long> entries = stackalloc long[Math.Min(n, Gang)];
        while (pages < n)
        {
            var index = first + pages;
            var want = Math.Min(n - pages, entries.Length);
            var got = 0;

            // find_get_pages_contig: resident pages and holes under one hold of the mapping
            // lock, each reference taken there (the rule reclaim relies on); a swap entry ends it.
            // The same rule as PageCache.FindGetRun (a write's lookup): a change to one must be
            // made to both. PageCache.Read looks up without the lock (FindGetReadRun).
            using (inode.MappingLock.Hold())
            {
                var m = inode.Pages.GetRange(index, entries[..want]);
                for (; got < m; got++)
                {
                    var entry = entries[got];
                    if (PageCacheTree.IsFrame(entry))
                    {
                        var pfn = PageCacheTree.ToFrame(entry);
                        frames.GetPage(pfn);
                        pfns[pages + got] = pfn;
                    }
                    else if (entry == 0)
                    {
                        pfns[pages + got] = -1;
                    }
                    else
                    {
                        break;
                    }
                }
            }

            if (got == 0)
            {
                try
                {
                    pfns[pages] = PageCache.FindGetPage(inode, index);
                }
                catch (TmpfsException) when (pages > 0)
                {
                    break;
                }

                got = 1;
            }

            for (var i = pages; i < pages + got; i++)
            {
                var pfn = pfns[i];
                if (pfn < 0)
                {
                    continue;
                }

                if (!frames.TestFlag(pfn, PageFlags.Uptodate))
                {
                    frames.PutPage(pfn);
                    pfns[i] = -1;
                }
                else
                {
                    memory.Lru.MarkAccessed(pfn);
                }
            }

            pages += got;
        }

        var end = Math.Min(offset + count, (first + pages) << PageShift);
        return (int)(end - offset);
    }

    /// <summary>Drops the references <see cref="GetPages"/> took (-1 entries are skipped).</summary>
    public static void PutPages(PageFrames frames, ReadOnlySpan<int> pfns)
    {
        foreach (var pfn in pfns)
        {
            if (pfn >= 0)
            {
                frames.PutPage(pfn);
            }
        }
    }

    /// <summary>
    /// Where page <paramref name="i"/> of a read of <paramref name="length"/> bytes at
    /// <paramref name="offset"/> starts within the page, and how many of its bytes the read covers.
    /// </summary>
    public static (int InPage, int Length) Slice(long offset, int length, int i)
    {
        var pageStart = (((offset >> PageShift) + i) << PageShift) - offset; // relative to offset; < 0 for an unaligned first page
        var from = Math.Max(0, pageStart);
        var to = Math.Min(length, pageStart + PageSize);
        return ((int)(from - pageStart), (int)(to - from));
    }
}
