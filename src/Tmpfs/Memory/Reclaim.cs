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
/// lock (trylock) while writepage runs. Passes run concurrently (kswapd and any number of
/// direct reclaimers), each with its own write batch and slot cluster, so that one pass's
/// write is on the device while another prepares the next. <c>passLock</c> is held shared
/// by every pass and exclusively by <see cref="Pause"/>; it is outside every other lock.
/// </remarks>
internal sealed class Reclaim : IDisposable
{
    private readonly PageFrames frames;
    private readonly LruLists lru;
    private readonly SwapSpace swap;
    private readonly VmStat stat;
    private readonly ReaderWriterLockSlim passLock = new(LockRecursionPolicy.NoRecursion);
    private readonly System.Collections.Concurrent.ConcurrentBag<SwapWriteBatch> batches = [];
    private readonly AutoResetEvent wake = new(false);
    private readonly Thread kswapd;
    private volatile bool stopping;

    public Reclaim(PageFrames frames, LruLists lru, SwapSpace swap, VmStat stat)
    {
        this.frames = frames;
        this.lru = lru;
        this.swap = swap;
        this.stat = stat;
        kswapd = new Thread(KswapdLoop) { IsBackground = true, Name = "tmpfs-kswapd" };
        kswapd.Start();
    }

    // __setup_per_zone_wmarks / calculate_min_free_kbytes, scaled to the budget (which
    // SetBudget may move): min ~ 1/128 of memory (at least 4 pages); low and high each a
    // step above, the step two write batches (2 MiB) where the budget allows (1/32 of it at
    // most), so that kswapd starts writing while an allocating stream still has room and
    // its writes overlap the stream's own (the kernel's watermark_scale_factor gap).

    /// <summary>WMARK_MIN in pages: below it an allocation reclaims directly.</summary>
    public int Min => Math.Max(4, frames.TotalFrames / 128);

    /// <summary>WMARK_LOW: below it kswapd is woken.</summary>
    public int Low => Min + Step;

    /// <summary>WMARK_HIGH: kswapd works until free pages reach it.</summary>
    public int High => Min + (2 * Step);

    private int Step => Math.Max(Min / 4, Math.Min(2 * PassPages, frames.TotalFrames / 32));

    /// <summary>
    /// Holds reclaim off (for a consistency check): no page moves to swap until disposed.
    /// Take it after any inode locks: reclaim never takes an inode lock.
    /// </summary>
    public PauseScope Pause()
    {
        passLock.EnterWriteLock();
        return new PauseScope(passLock);
    }

    /// <summary>
    /// Waits until the reclaim passes running now have ended (a pass holds references to
    /// the pages it isolated until it ends, even to pages truncated meanwhile).
    /// </summary>
    public void WaitForPasses()
    {
        if (Interleaving.Current is { } scheduler)
        {
            // A controlled pass may be paused holding passLock: wait through the scheduler.
            scheduler.WaitUntil(() => passLock.CurrentReadCount == 0);
            return;
        }

        using (Pause())
        {
        }
    }

    /// <summary>
    /// Pages one pass isolates and writes at most: a write batch, but no more than 1/16 of
    /// the budget, so that a small budget keeps pages for the others.
    /// </summary>
    public int PassPages => Math.Clamp(frames.TotalFrames / 16, 32, SwapWriteBatch.MaxPages);

    /// <summary>wakeup_kswapd when free memory is below the low mark and swap could help.</summary>
    public void WakeIfLow()
    {
        if (swap.HasDevices && frames.FreeFrames < Low) // the lock-free test first
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
        return Shrink(Math.Max(wanted, PassPages));
    }

    /// <summary>shrink_node: reclaims up to <paramref name="target"/> pages; returns how many were freed.</summary>
    public int Shrink(int target)
    {
        if (!swap.HasDevices)
        {
            return 0;
        }

        passLock.EnterReadLock();
        if (!batches.TryTake(out var batch))
        {
            batch = new SwapWriteBatch(frames, swap);
        }

        try
        {
            var freed = 0;
            var idle = 0;
            Span<int> isolated = stackalloc int[SwapWriteBatch.MaxPages];
            while (freed < target && idle < 4)
            {
                // Keep the inactive list at least as long as the active one (inactive_is_low).
                if (lru.InactiveCount < lru.ActiveCount)
                {
                    lru.Deactivate(PassPages);
                }

                var pass = PassPages;
                var n = lru.IsolateInactive(isolated[..Math.Min(pass, Math.Max(target - freed, pass / 4))], out var scanned);
                VmStat.Add(ref stat.PgScan, scanned);
                if (n == 0)
                {
                    if (lru.ActiveCount == 0)
                    {
                        break;
                    }

                    lru.Deactivate(PassPages);
                    idle++;
                    continue;
                }

                var got = ShrinkIsolated(isolated[..n], batch);
                freed += got;
                idle = got == 0 ? idle + 1 : 0;
            }

            return freed;
        }
        finally
        {
            batch.Clear();
            batches.Add(batch);
            passLock.ExitReadLock();
        }
    }

    /// <summary>shrink_folio_list: writepage for each isolated page, one batched write, then free.</summary>
    private int ShrinkIsolated(ReadOnlySpan<int> isolated, SwapWriteBatch batch)
    {
        var freed = 0;
        batch.Clear();
        batch.Expect(isolated.Length);
        foreach (var pfn in isolated)
        {
            Interleaving.Point();
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

        Interleaving.Point();
        batch.Submit();
        for (var i = 0; i < batch.Count; i++)
        {
            Interleaving.Point();
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
                if (Shrink(PassPages * 4) == 0)
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
        while (batches.TryTake(out var batch))
        {
            batch.Dispose();
        }

        passLock.Dispose();
    }

    /// <summary>Reclaim held off; dispose to let it run again.</summary>
    internal readonly struct PauseScope(ReaderWriterLockSlim passLock) : IDisposable
    {
        public void Dispose() => passLock.ExitWriteLock();
    }
}
