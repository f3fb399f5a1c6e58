using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// The data path of a tmpfs file over its page cache: shmem_get_folio (find, swap in or
/// allocate), read and write, truncation (shmem_undo_range), fallocate and
/// SEEK_DATA/SEEK_HOLE. Callers hold the inode's lock (i_rwsem).
/// </summary>
/// <remarks>
/// Reclaim may take any page on the LRU at any moment, holding only the page lock and a
/// reference. So this code never touches a frame without a reference of its own, taken
/// under the mapping lock together with the lookup (find_get_page): reclaim moves a page
/// to swap only while nobody but the page cache and itself holds it, and it checks that
/// under the same lock. A fresh page is filled before it enters the page cache and the LRU,
/// so nobody else sees it until it holds its data.
/// </remarks>
internal static partial class PageCache
{
    public const long MaxFileSize = long.MaxValue; // MAX_LFS_FILESIZE on 64-bit
    private const int PageSize = PageFrames.PageSize;
    private const int PageShift = PageFrames.PageShift;
    private const int MaxRun = 64;

    // A write this large would evict itself from the cache (1 MiB of L2 per core on the
    // machines measured) before it is read: what it overwrites takes non-temporal stores.
    private const int StreamingWrite = 1 << 20;

    // A file with more resident pages than the last-level cache holds (32 MiB on the machines
    // measured) has most of them out of the cache: a page this write replaces wholly is then
    // written with non-temporal stores, saving the read for ownership of 4 KiB nobody will
    // read (random 4 KiB overwrites of a 256 MiB file: 939 -> 589 ns, docs/benchmarks.md).
    // Smaller files keep ordinary stores, so a hot page rewritten and read again stays cached.
    private const long LargeFilePages = (32 << 20) >> PageShift;

    /// <summary>
    /// shmem_file_read_iter: copies from <paramref name="offset"/> up to EOF. Holes and
    /// pages not yet written (fallocated, !Uptodate) read as zeros. A swap read error is
    /// EIO (or a short count when some bytes were read). <paramref name="pattern"/> (the
    /// handle's readahead state) only picks how the pages are copied.
    /// </summary>
    public static int Read(Inode inode, long offset, Span<byte> destination, ReadPattern pattern = ReadPattern.Random)
    {
        var size = inode.Size;
        if (offset >= size || destination.IsEmpty)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, size - offset);
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        Span<int> run = stackalloc int[RunLength(offset, count)];
        var done = 0;
        while (done < count)
        {
            var pos = offset + done;
            var index = pos >> PageShift;
            var pages = (int)Math.Min(run.Length, (((offset + count - 1) >> PageShift) - index) + 1);

            // The resident pages and holes of this stretch, with references, without the
            // mapping lock; a swapped page (or one reclaim is moving) ends the run and is
            // found, or swapped in, by itself under the lock.
            // A file's first page, read first, is most likely out of the cache (opening the
            // file missed on its inode and mapping too), and the CPU's prefetcher cannot know it
            // comes next: its lines are asked for at once, as soon as the mapping names the
            // frame, so they arrive together and alongside the miss on the frame's descriptor.
            // SmallFiles.Read 443 -> 413 ns (smoke A/B); issued before that miss instead of
            // after it, 385 -> 376 ns (passes alternated in one process). Continuing reads are
            // left to the hardware, which already streams the pages (Sequential4K.Read lost up
            // to 25 % with it), and random ones gained nothing.
            var prefetch = done == 0 && pattern == ReadPattern.Start ? Math.Min(PageSize, count) : 0;
            var got = FindGetReadRun(inode, index, run[..pages], prefetch);
            if (got == 0)
            {
                try
                {
                    run[0] = FindGetPage(inode, index);
                }
                catch (TmpfsException) when (done > 0)
                {
                    break;
                }

                got = 1;
            }

            for (var i = 0; i < got; i++)
            {
                pos = offset + done;
                var inPage = (int)(pos & (PageSize - 1));
                var chunk = Math.Min(PageSize - inPage, count - done);
                var target = destination.Slice(done, chunk);
                var pfn = run[i];
                if (pfn >= 0)
                {
                    if (frames.TestFlag(pfn, PageFlags.Uptodate))
                    {
                        frames.CopyOut(pfn, inPage, target, sequential: pattern != ReadPattern.Random);
                    }
                    else
                    {
                        target.Clear();
                    }

                    memory.Lru.MarkAccessed(pfn);
                    frames.PutPage(pfn);
                }
                else
                {
                    target.Clear();
                }

                done += chunk;
            }
        }

        return done;
    }

    /// <summary>
    /// filemap_get_read_batch: the frames and holes (-1) from <paramref name="index"/> on, at most
    /// <paramref name="pfns"/>.Length and within one tree leaf, each frame with a reference for
    /// the caller, stopping before a swap entry; <paramref name="prefetchFirst"/> bytes of the
    /// first frame are prefetched as soon as the entry names it (0: none). Without the
    /// mapping lock. The caller holds the inode lock, under which the tree's shape cannot
    /// change (see <see cref="PageCacheTree"/>), and only reclaim replaces entries meanwhile
    /// (a frame by its swap entry, or back when the swap write fails; swap-in too takes the
    /// inode lock). So each frame is taken with a try-get (folio_try_get: fails on a count frozen
    /// or dropped to 0 by reclaim or a free) and kept only if its entry still names it after
    /// every try-get of the run (xas_reload); a frame that moved is put back and the run ends
    /// there. A frame a stale entry names may meanwhile belong to someone else: the try-get
    /// only raises its count for a moment, which is why every other change of a count is
    /// atomic. Reclaim checks under the mapping lock that only the page cache and itself hold a
    /// page before it moves it to swap; a reader that slips in after that check only reads
    /// the page, whose data nobody changes while the reader holds the inode lock, and its
    /// reference makes reclaim's final freeze fail (the page stays in the swap cache).
    /// Returns how many it filled (0: the first needs the slow path).
    /// </summary>
    private static int FindGetReadRun(Inode inode, long index, Span<int> pfns, int prefetchFirst)
    {
        var frames = inode.Sb.Frames;
        Span<long> entries = stackalloc long[pfns.Length];
        var n = inode.Pages.LoadRange(index, entries);
        Interleaving.Point(); // reclaim may move, free and reuse a frame named here
        var got = 0;
        for (; got < n; got++)
        {
            var entry = entries[got];
            if (PageCacheTree.IsFrame(entry))
            {
                var pfn = PageCacheTree.ToFrame(entry);
                if (got == 0 && prefetchFirst > 0)
                {
                    frames.Prefetch(pfn, 0, prefetchFirst); // before the try-get's miss on the descriptor
                }

                if (!frames.TryGetPage(pfn))
                {
                    break;
                }

                pfns[got] = pfn;
            }
            else if (entry == 0)
            {
                pfns[got] = -1;
            }
            else
            {
                break;
            }
        }

        if (got == 0)
        {
            return 0;
        }

        // Reload after all the try-gets (each a full fence): a frame whose entry changed is not ours.
        Interleaving.Point();
        Span<long> now = stackalloc long[got];
        inode.Pages.LoadRange(index, now);
        var kept = 0;
        while (kept < got && now[kept] == entries[kept])
        {
            kept++;
        }

        for (var i = kept; i < got; i++)
        {
            if (pfns[i] >= 0)
            {
                frames.PutPage(pfns[i]);
            }
        }

        return kept;
    }

    /// <summary>
    /// find_get_pages_contig for a write: the resident frames from <paramref name="index"/> on,
    /// at most <paramref name="pfns"/>.Length and within one tree leaf, under one hold of the
    /// mapping lock, each with a reference for the caller taken there: reclaim checks under the
    /// same lock that only the page cache and itself hold a page before it moves it to swap,
    /// so a page being written never goes out half-written. Stops before a hole or a swap
    /// entry. Returns how many it filled (0: the first needs the slow path);
    /// <paramref name="firstIsHole"/> says whether the entry at <paramref name="index"/> is a
    /// hole, so that a write meeting one allocates at once instead of looking it up again under
    /// a second hold of the mapping lock; only meaningful when it returns 0. The caller holds
    /// the inode lock, under which a hole stays a hole: pages enter the page cache only with it
    /// held (reclaim and swap-in change frames into swap entries and back, never a hole).
    /// </summary>
    private static int FindGetRun(Inode inode, long index, Span<int> pfns, out bool firstIsHole)
    {
        var frames = inode.Sb.Frames;
        Span<long> entries = stackalloc long[pfns.Length]; // sized to the run: a 4 KiB call zeroes one slot, not 64
        var got = 0;
        using (inode.MappingLock.Hold())
        {
            var n = inode.Pages.GetRange(index, entries[..pfns.Length]);
            firstIsHole = n == 0 || entries[0] == 0;
            for (; got < n; got++)
            {
                var entry = entries[got];
                if (!PageCacheTree.IsFrame(entry))
                {
                    break;
                }

                var pfn = PageCacheTree.ToFrame(entry);
                frames.GetPage(pfn);
                pfns[got] = pfn;
            }
        }

        return got;
    }

    /// <summary>
    /// generic_perform_write over shmem_write_begin/end: copies page by page, swapping in
    /// or allocating as needed. A failure after some bytes were written returns the short
    /// count, as write(2) does; a failure before any is thrown (ENOSPC, EFBIG, EIO).
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
        var memory = inode.Sb.Memory;
        var frames = memory.Frames;
        var streaming = count >= StreamingWrite;
        Span<int> run = stackalloc int[RunLength(offset, count)];
        var done = 0;
        while (done < count)
        {
            var pos = offset + done;
            var index = pos >> PageShift;
            var pages = (int)Math.Min(run.Length, (((offset + count - 1) >> PageShift) - index) + 1);

            // The resident pages this write overwrites, with references, in one hold of the
            // mapping lock; a hole or a swapped page ends the run.
            var got = FindGetRun(inode, index, run[..pages], out var hole);
            if (got == 0 && !hole)
            {
                int pfn;
                try
                {
                    pfn = FindGetPage(inode, index);
                }
                catch (TmpfsException) when (done > 0)
                {
                    break;
                }

                if (pfn >= 0)
                {
                    run[0] = pfn;
                    got = 1;
                }
            }

            if (got > 0)
            {
                var store = streaming || inode.Alloced > LargeFilePages ? FrameStore.NonTemporal : FrameStore.Cached;
                done = FillRun(frames, run[..got], offset, source[..count], done, store, unpublished: false);
                foreach (var pfn in run[..got])
                {
                    memory.Lru.MarkAccessed(pfn);
                }

                PublishRun(frames, run[..got], fence: store == FrameStore.NonTemporal);

                GrowSize(inode, offset + done);
                continue;
            }

            // A hole: allocate it and the holes after it that this write covers, in one batch,
            // fill them while nobody else can see them, and only then add them to the page
            // cache and the LRU (shmem_alloc_and_add_folio, with the copy moved before the add:
            // the inode lock keeps the holes holes meanwhile).
            try
            {
                got = AllocateRun(inode, index, pos, offset + count, run);
            }
            catch (TmpfsException) when (done > 0)
            {
                break;
            }

            // A fresh frame's old contents are of no use to anyone: libc's memmove fills it
            // (FrameStore.Fresh), which measured faster in place than non-temporal stores and
            // their fence, and than the vector loop, whether the frame was freed a moment ago
            // or long since and whatever the file's size. Its stores need no fence: the
            // mapping lock that publishes the page orders them.
            done = FillRun(frames, run[..got], offset, source[..count], done, FrameStore.Fresh, unpublished: true);
            AddToPageCache(inode, index, run[..got]);
            memory.Lru.AddRun(run[..got]);
            for (var i = 0; i < got; i++)
            {
                frames.PutPage(run[i]);
            }

            GrowSize(inode, offset + done);
        }

        return done;
    }

    /// <summary>
    /// shmem_get_folio(SGP_WRITE) for one page: the frame at <paramref name="index"/>,
    /// swapped in or allocated (zeroed) when needed, with a reference for the caller.
    /// </summary>
    public static int GetPage(Inode inode, long index)
    {
        var pfn = FindGetPage(inode, index);
        if (pfn >= 0)
        {
            return pfn;
        }

        Span<int> one = stackalloc int[1];
        AllocateRun(inode, index, 0, 0, one[..1]);
        AddToPageCache(inode, index, one[..1]);
        inode.Sb.Memory.Lru.Add(one[0]);
        return one[0];
    }

    /// <summary>
    /// find_get_page, swapping in: the resident frame at <paramref name="index"/> with a
    /// reference for the caller, or -1 for a hole.
    /// </summary>
    public static int FindGetPage(Inode inode, long index)
    {
        var frames = inode.Sb.Frames;
        while (true)
        {
            long entry;
            using (inode.MappingLock.Hold())
            {
                entry = inode.Pages.Get(index);
                if (PageCacheTree.IsFrame(entry))
                {
                    var pfn = PageCacheTree.ToFrame(entry);
                    frames.GetPage(pfn);
                    return pfn;
                }
            }

            if (entry == 0)
            {
                return -1;
            }

            var swapped = ShmemSwap.SwapIn(inode, index, entry);
            if (swapped >= 0)
            {
                return swapped;
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
            bool present;
            long found, entry;
            using (inode.MappingLock.Hold())
            {
                present = inode.Pages.NextPresent(index, endIndex, out found, out entry);
            }

            if (!present || found > index)
            {
                if (!data)
                {
                    return Math.Max(offset, index << PageShift); // a hole before the next page
                }

                if (!present)
                {
                    break;
                }

                index = found;
                continue;
            }

            // Swapped pages are data; resident ones are data once written (fallocated ones are not).
            var isData = !PageCacheTree.IsFrame(entry) || frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Uptodate);
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

    /// <summary>The pages [offset, offset + count) touches, at most <see cref="MaxRun"/> (count > 0).</summary>
    private static int RunLength(long offset, int count) =>
        (int)Math.Min(MaxRun, ((offset + count - 1) >> PageShift) - (offset >> PageShift) + 1);

    /// <summary>
    /// shmem_write_end for a run of pages: copies the next bytes of <paramref name="source"/>
    /// (the write at <paramref name="offset"/>, <paramref name="done"/> bytes already in) into
    /// the frames of <paramref name="pfns"/> the way <paramref name="store"/> says, marking
    /// each written. Non-temporal stores are for whole pages: a page written in part keeps
    /// the rest of its lines, which are read for ownership anyway. <paramref name="unpublished"/>:
    /// the frames are fresh and not yet in the page cache, so nobody else can touch their flags.
    /// Returns the new done.
    /// </summary>
    private static int FillRun(PageFrames frames, ReadOnlySpan<int> pfns, long offset, ReadOnlySpan<byte> source, int done, FrameStore store, bool unpublished)
    {
        for (var i = 0; i < pfns.Length; i++)
        {
            var pfn = pfns[i];
            var inPage = (int)((offset + done) & (PageSize - 1));
            var chunk = Math.Min(PageSize - inPage, source.Length - done);
            var pageStore = store == FrameStore.NonTemporal && chunk < PageSize ? FrameStore.Cached : store;
            frames.CopyIn(pfn, inPage, source.Slice(done, chunk), pageStore);
            MarkWritten(frames, pfn, unpublished);
            done += chunk;
        }

        return done;
    }

    /// <summary>
    /// folio_mark_uptodate and folio_mark_dirty. A page nobody else can see yet (fresh, not
    /// yet in the page cache) takes plain stores, as the kernel's __folio_set_* on a new
    /// folio: publishing it under the mapping lock orders them.
    /// </summary>
    private static void MarkWritten(PageFrames frames, int pfn, bool unpublished)
    {
        const PageFlags written = PageFlags.Uptodate | PageFlags.Dirty;
        if (unpublished)
        {
            frames[pfn].Flags |= (int)written;
        }
        else if ((frames[pfn].Flags & (int)written) != (int)written)
        {
            frames.SetFlag(pfn, written);
        }
    }

    /// <summary>Drops the references of an overwritten run, its non-temporal stores fenced first.</summary>
    private static void PublishRun(PageFrames frames, ReadOnlySpan<int> pfns, bool fence)
    {
        if (fence)
        {
            PageCopy.Fence();
        }

        foreach (var pfn in pfns)
        {
            frames.PutPage(pfn);
        }
    }

    private static void GrowSize(Inode inode, long end)
    {
        if (end > inode.Size)
        {
            inode.Size = end;
        }
    }

    /// <summary>
    /// Allocates the hole at <paramref name="index"/> and the consecutive holes after it up
    /// to the end of the write [<paramref name="writeStart"/>, <paramref name="writeEnd"/>),
    /// at most <paramref name="pfns"/>.Length, charging blocks and taking frames in one step
    /// each. Pages the write covers wholly are not zeroed; the others are. The frames are the
    /// caller's alone (but for a reader's passing try-get through a stale entry, see
    /// <see cref="FindGetReadRun"/>), each with two references (the page cache's and the
    /// caller's): it fills them, then <see cref="AddToPageCache"/> publishes them and it adds
    /// them to the LRU.
    /// Returns how many it allocated (at least one, or it throws ENOSPC). The caller holds
    /// the inode lock, so the holes stay holes until it adds the pages.
    /// </summary>
    internal static int AllocateRun(Inode inode, long index, long writeStart, long writeEnd, Span<int> pfns)
    {
        var sb = inode.Sb;
        var memory = sb.Memory;
        var want = writeEnd > writeStart ? (int)Math.Min(pfns.Length, ((writeEnd - 1) >> PageShift) - index + 1) : 1;
        var run = 1;
        if (want > 1)
        {
            Span<long> entries = stackalloc long[MaxRun];
            using (inode.MappingLock.Hold())
            {
                // Count the holes after the first, a leaf at a time.
                while (run < want)
                {
                    var n = inode.Pages.GetRange(index + run, entries[..Math.Min(want - run, MaxRun)]);
                    var holes = entries[..n].IndexOfAnyExcept(0L);
                    run += holes < 0 ? n : holes;
                    if (holes >= 0)
                    {
                        break;
                    }
                }
            }
        }

        // Charge what size= allows: the run, else one page, else ENOSPC.
        while (!sb.TryChargeBlocks(run))
        {
            if (run == 1)
            {
                TmpfsException.Throw(Errno.ENOSPC, "no space left on the mount (size)");
            }

            run = 1;
        }

        int got;
        try
        {
            got = memory.AllocateFrames(pfns[..run]);
        }
        catch
        {
            sb.UnchargeBlocks(run);
            throw;
        }

        if (got < run)
        {
            sb.UnchargeBlocks(run - got);
        }

        var frames = sb.Frames;
        for (var i = 0; i < got; i++)
        {
            var pageStart = (index + i) << PageShift;
            if (!(writeStart <= pageStart && writeEnd >= pageStart + PageSize))
            {
                frames.GetSpan(pfns[i]).Clear();
            }

            ref var page = ref frames[pfns[i]];
            page.Mapping = inode;
            page.Index = index + i;
            frames.GetPage(pfns[i]); // the caller's, atomically: a reader's try-get through a stale entry may be raising the count
        }

        return got;
    }

    /// <summary>
    /// shmem_add_to_page_cache: puts the frames from <see cref="AllocateRun"/> at
    /// <paramref name="index"/> on, into the holes there, and charges them to the inode.
    /// The mapping lock's release publishes what the caller wrote into them. If a slot is not
    /// a hole (the kernel's -EEXIST: the inode lock should make that impossible) or a tree
    /// node cannot be allocated, nothing is added: the frames are freed, their blocks
    /// uncharged, and it throws.
    /// </summary>
    internal static void AddToPageCache(Inode inode, long index, ReadOnlySpan<int> pfns)
    {
        var added = 0;
        var done = false;
        try
        {
            using (inode.MappingLock.Hold())
            {
                try
                {
                    for (; added < pfns.Length; added++)
                    {
                        var found = inode.Pages.Set(index + added, PageCacheTree.FrameEntry(pfns[added]));
                        if (found != 0)
                        {
                            inode.Pages.Set(index + added, found); // no allocation: the node is there
                            throw new InvalidOperationException($"page cache slot {index + added} of inode {inode.Ino} is not a hole");
                        }
                    }

                    done = true;
                }
                finally
                {
                    // Take out what went in (erasing allocates nothing), still under the lock.
                    for (var i = 0; !done && i < added; i++)
                    {
                        inode.Pages.Set(index + i, 0);
                    }
                }
            }
        }
        finally
        {
            if (!done)
            {
                AbandonFrames(inode, pfns);
            }
        }

        inode.Alloced += pfns.Length;
        inode.Sb.Memory.ChargeShmem(pfns.Length);
    }

    /// <summary>Frees frames from <see cref="AllocateRun"/> that never entered the page cache, and uncharges their blocks.</summary>
    private static void AbandonFrames(Inode inode, ReadOnlySpan<int> pfns)
    {
        var frames = inode.Sb.Frames;
        foreach (var pfn in pfns)
        {
            frames[pfn].Mapping = null;
            frames.PutPage(pfn); // the caller's reference
            frames.PutPage(pfn); // the page cache's: frees it
        }

        inode.Sb.UnchargeBlocks(pfns.Length);
    }

}
