using System.Diagnostics;

namespace Tmpfs.Memory;

/// <summary>
/// Page reclaim (mm/vmscan.c): free-page watermarks, a background reclaimer (kswapd)
/// that wakes below the low mark and works to the high mark, and direct reclaim by an
/// allocating thread that finds no free page. Reclaim takes pages from the inactive
/// LRU tail, gives referenced ones a second chance, and hands the rest to their
/// mapping's writepage, which sends them to swap.
/// </summary>
/// <remarks>
/// Reclaim never holds an inode: only a page reference (taken at isolation) and the page
/// lock (trylock) while writepage runs. <c>shrinkLock</c> serializes whole passes so one
/// bounce buffer and one write batch serve them; it is outside every other lock.
/// </remarks>
internal sealed class Reclaim : IDisposable
{
    private readonly PageFrames frames;
    private readonly LruLists lru;
    private readonly SwapSpace swap;
    private readonly VmStat stat;
    private readonly Lock shrinkLock = new();
    private readonly SwapWriteBatch batch;
    private readonly AutoResetEvent wake = new(false);
    private readonly Thread kswapd;
    private volatile bool stopping;

    public Reclaim(PageFrames frames, LruLists lru, SwapSpace swap, VmStat stat)
    {
        this.frames = frames;
        this.lru = lru;
        this.swap = swap;
        this.stat = stat;
        batch = new SwapWriteBatch(frames);

        // __setup_per_zone_wmarks / calculate_min_free_kbytes, scaled to the budget:
        // min ~ 1/128 of memory (at least 4 pages), low = min * 5/4, high = min * 3/2.
        var total = frames.TotalFrames;
        Min = Math.Max(4, total / 128);
        Low = Math.Max(Min + 1, Min * 5 / 4);
        High = Math.Max(Low + 1, Min * 3 / 2);
        kswapd = new Thread(KswapdLoop) { IsBackground = true, Name = "tmpfs-kswapd" };
        kswapd.Start();
    }

    /// <summary>WMARK_MIN in pages: below it an allocation reclaims directly.</summary>
    public int Min { get; }

    /// <summary>WMARK_LOW: below it kswapd is woken.</summary>
    public int Low { get; }

    /// <summary>WMARK_HIGH: kswapd works until free pages reach it.</summary>
    public int High { get; }

    /// <summary>
    /// Holds reclaim off (for a consistency check): no page moves to swap until disposed.
    /// Take it after any inode locks: reclaim never takes an inode lock.
    /// </summary>
    public Lock.Scope Pause() => shrinkLock.EnterScope();

    /// <summary>wakeup_kswapd when free memory is below the low mark and swap could help.</summary>
    public void WakeIfLow()
    {
        if (frames.FreeFrames < Low && swap.HasDevices)
        {
            wake.Set();
        }
    }

    /// <summary>
    /// try_to_free_pages: the allocating thread reclaims a batch itself (an allocation
    /// stall). Returns the pages freed.
    /// </summary>
    public int DirectReclaim(int wanted)
    {
        VmStat.Add(ref stat.AllocStall);
        wake.Set();
        return Shrink(Math.Max(wanted, SwapWriteBatch.MaxPages));
    }

    /// <summary>shrink_node: reclaims up to <paramref name="target"/> pages; returns how many were freed.</summary>
    public int Shrink(int target)
    {
        if (!swap.HasDevices)
        {
            return 0;
        }

        lock (shrinkLock)
        {
            var freed = 0;
            var idle = 0;
            Span<int> isolated = stackalloc int[SwapWriteBatch.MaxPages];
            while (freed < target && idle < 4)
            {
                // Keep the inactive list at least as long as the active one (inactive_is_low).
                if (lru.InactiveCount < lru.ActiveCount)
                {
                    lru.Deactivate(SwapWriteBatch.MaxPages);
                }

                var n = lru.IsolateInactive(isolated, out var scanned);
                VmStat.Add(ref stat.PgScan, scanned);
                if (n == 0)
                {
                    if (lru.ActiveCount == 0)
                    {
                        break;
                    }

                    lru.Deactivate(SwapWriteBatch.MaxPages);
                    idle++;
                    continue;
                }

                var got = ShrinkIsolated(isolated[..n]);
                freed += got;
                idle = got == 0 ? idle + 1 : 0;
            }

            return freed;
        }
    }

    /// <summary>shrink_folio_list: writepage for each isolated page, one batched write, then free.</summary>
    private int ShrinkIsolated(ReadOnlySpan<int> isolated)
    {
        var freed = 0;
        batch.Clear();
        foreach (var pfn in isolated)
        {
            if (!frames.TryLockPage(pfn))
            {
                lru.Putback(pfn, activate: false);
                frames.PutPage(pfn);
                continue;
            }

            ref var page = ref frames[pfn];
            if (frames.TestFlag(pfn, PageFlags.SwapCache))
            {
                // A clean page left in the swap cache (someone held it when its write ended).
                if (TryFreeSwapCachePage(pfn, SwapEntry.FromValue(page.Index)))
                {
                    freed++;
                }

                continue;
            }

            var mapping = page.Mapping;
            if (mapping is null)
            {
                // Truncated while isolated: the page cache let go of it; drop ours.
                frames.UnlockPage(pfn);
                frames.PutPage(pfn);
                continue;
            }

            if (!mapping.WritePage(pfn, batch))
            {
                frames.UnlockPage(pfn);
                lru.Putback(pfn, activate: true);
                frames.PutPage(pfn);
            }
        }

        if (batch.Count == 0)
        {
            return freed;
        }

        batch.Submit();
        for (var i = 0; i < batch.Count; i++)
        {
            ref readonly var item = ref batch[i];
            if (!item.Written)
            {
                VmStat.Add(ref stat.SwapWriteErrors);
                item.Owner.WritePageFailed(item.Pfn, item.Entry, item.Index);
                frames.UnlockPage(item.Pfn);
                lru.Putback(item.Pfn, activate: true);
                frames.PutPage(item.Pfn);
                continue;
            }

            VmStat.Add(ref stat.PswpOut);
            if (TryFreeSwapCachePage(item.Pfn, item.Entry))
            {
                freed++;
            }
        }

        batch.Clear();
        return freed;
    }

    /// <summary>
    /// __remove_mapping for a written swap-cache page (locked, isolated): free it when only
    /// the swap cache and reclaim hold it; otherwise unlock and put it back on the LRU for a
    /// later pass (someone looking it up will take it back into a page cache).
    /// </summary>
    private bool TryFreeSwapCachePage(int pfn, SwapEntry entry)
    {
        if (swap.TryRemoveFromCacheFrozen(entry, pfn, callerRefs: 1))
        {
            frames.ClearFlag(pfn, PageFlags.SwapCache | PageFlags.Locked | PageFlags.Dirty | PageFlags.Referenced);
            Debug.Assert(!frames.TestFlag(pfn, PageFlags.Waiters), "a frozen page has no waiters");
            frames.Free(pfn);
            VmStat.Add(ref stat.PgSteal);
            return true;
        }

        frames.UnlockPage(pfn);
        lru.Putback(pfn, activate: false);
        frames.PutPage(pfn);
        return false;
    }

    private void KswapdLoop()
    {
        while (!stopping)
        {
            wake.WaitOne(TimeSpan.FromMilliseconds(250));
            if (stopping)
            {
                break;
            }

            // balance_pgdat: work to the high mark, in batches, while it makes progress.
            while (!stopping && frames.FreeFrames < High && swap.HasDevices)
            {
                if (Shrink(SwapWriteBatch.MaxPages * 4) == 0)
                {
                    break;
                }
            }
        }
    }

    public void Dispose()
    {
        stopping = true;
        wake.Set();
        kswapd.Join();
        wake.Dispose();
        batch.Dispose();
    }
}
