using System.Diagnostics;

namespace Tmpfs.Memory;

/// <summary>
/// The active and inactive LRU lists of resident pages (struct lruvec), linked through
/// the page descriptors. New pages enter the inactive list; a page referenced while
/// inactive is promoted (mark_page_accessed); reclaim takes from the inactive tail and
/// gives a referenced page a second chance on the active list.
/// </summary>
/// <remarks>
/// <c>lruLock</c> (lruvec->lru_lock) guards the links and counts; it is taken inside the
/// page lock and the mapping lock and takes nothing itself. PG_lru says a page is linked.
/// </remarks>
internal sealed class LruLists
{
    private readonly PageFrames frames;
    private readonly Spinlock lruLock = new();
    private readonly ListHead active = new();
    private readonly ListHead inactive = new();

    public LruLists(PageFrames frames)
    {
        this.frames = frames;
        frames.ReleaseFromLru = pfn => Remove(pfn);
    }

    public long ActiveCount
    {
        get
        {
            using (lruLock.Hold())
            {
                return active.Count;
            }
        }
    }

    public long InactiveCount
    {
        get
        {
            using (lruLock.Hold())
            {
                return inactive.Count;
            }
        }
    }

    /// <summary>folio_add_lru: a new page goes to the head of the inactive list.</summary>
    public void Add(int pfn)
    {
        using (lruLock.Hold())
        {
            Debug.Assert(!frames.TestFlag(pfn, PageFlags.Lru), "page already on an LRU list");
            frames.ClearFlag(pfn, PageFlags.Active);
            PushHead(inactive, pfn);
            frames.SetFlag(pfn, PageFlags.Lru);
        }
    }

    /// <summary>folio_add_lru for a batch (a folio_batch): fresh pages (never on a list, so not active) to the inactive head under one lock hold.</summary>
    public void AddRun(ReadOnlySpan<int> pfns)
    {
        using (lruLock.Hold())
        {
            foreach (var pfn in pfns)
            {
                Debug.Assert(!frames.TestFlag(pfn, PageFlags.Lru | PageFlags.Active), "a fresh page already on an LRU list or active");
                PushHead(inactive, pfn);
                frames.SetFlag(pfn, PageFlags.Lru);
            }
        }
    }

    /// <summary>Unlinks a page that is about to be freed; false when it was not on a list (isolated).</summary>
    public bool Remove(int pfn)
    {
        using (lruLock.Hold())
        {
            if (!frames.TestFlag(pfn, PageFlags.Lru))
            {
                return false;
            }

            Unlink(frames.TestFlag(pfn, PageFlags.Active) ? active : inactive, pfn);
            frames.ClearFlag(pfn, PageFlags.Lru | PageFlags.Active);
            return true;
        }
    }

    /// <summary>
    /// mark_page_accessed: the first touch sets PG_referenced; a second touch of an inactive
    /// page moves it to the active list.
    /// </summary>
    public void MarkAccessed(int pfn)
    {
        if (!frames.TestFlag(pfn, PageFlags.Referenced))
        {
            frames.SetFlag(pfn, PageFlags.Referenced);
            return;
        }

        if (frames.TestFlag(pfn, PageFlags.Active))
        {
            return;
        }

        using (lruLock.Hold())
        {
            if (frames.TestFlag(pfn, PageFlags.Lru) && !frames.TestFlag(pfn, PageFlags.Active))
            {
                Unlink(inactive, pfn);
                PushHead(active, pfn);
                frames.SetFlag(pfn, PageFlags.Active);
                frames.ClearFlag(pfn, PageFlags.Referenced);
            }
        }
    }

    /// <summary>
    /// isolate_lru_folios for shrink_inactive_list: takes up to <paramref name="batch"/>.Length
    /// pages from the inactive tail. A referenced page gets its second chance on the active
    /// list instead. Each isolated page is off the lists and holds an extra reference
    /// that the caller puts back. Returns how many were isolated; <paramref name="scanned"/>
    /// counts what was looked at (pgscan).
    /// </summary>
    public int IsolateInactive(Span<int> batch, out int scanned)
    {
        var got = 0;
        scanned = 0;
        using (lruLock.Hold())
        {
            var budget = Math.Max(batch.Length * 4, 32);
            while (got < batch.Length && inactive.Tail >= 0 && scanned < budget)
            {
                var pfn = inactive.Tail;
                scanned++;
                Unlink(inactive, pfn);
                if (frames.TestFlag(pfn, PageFlags.Referenced))
                {
                    frames.ClearFlag(pfn, PageFlags.Referenced);
                    PushHead(active, pfn);
                    frames.SetFlag(pfn, PageFlags.Active);
                    continue;
                }

                // A page on its way to the free list (its count already 0) is no candidate:
                // back to the head, for the freeing thread to unlink (isolate_lru_folios).
                if (!frames.TryGetPage(pfn))
                {
                    PushHead(inactive, pfn);
                    continue;
                }

                frames.ClearFlag(pfn, PageFlags.Lru);
                batch[got++] = pfn;
            }
        }

        return got;
    }

    /// <summary>
    /// shrink_active_list: moves up to <paramref name="count"/> pages from the active tail to
    /// the inactive head; referenced ones rotate to the active head with the bit cleared.
    /// </summary>
    public void Deactivate(int count)
    {
        using (lruLock.Hold())
        {
            for (var i = 0; i < count && active.Tail >= 0; i++)
            {
                var pfn = active.Tail;
                Unlink(active, pfn);
                if (frames.TestFlag(pfn, PageFlags.Referenced))
                {
                    frames.ClearFlag(pfn, PageFlags.Referenced);
                    PushHead(active, pfn);
                    continue;
                }

                frames.ClearFlag(pfn, PageFlags.Active);
                PushHead(inactive, pfn);
            }
        }
    }

    /// <summary>folio_putback_lru: returns an isolated page to a list.</summary>
    public void Putback(int pfn, bool activate)
    {
        using (lruLock.Hold())
        {
            Debug.Assert(!frames.TestFlag(pfn, PageFlags.Lru), "putting back a page already on a list");
            if (activate)
            {
                PushHead(active, pfn);
                frames.SetFlag(pfn, PageFlags.Active | PageFlags.Lru);
            }
            else
            {
                frames.ClearFlag(pfn, PageFlags.Active);
                PushHead(inactive, pfn);
                frames.SetFlag(pfn, PageFlags.Lru);
            }
        }
    }

    private void PushHead(ListHead list, int pfn)
    {
        ref var page = ref frames[pfn];
        page.LruPrev = -1;
        page.LruNext = list.Head;
        if (list.Head >= 0)
        {
            frames[list.Head].LruPrev = pfn;
        }
        else
        {
            list.Tail = pfn;
        }

        list.Head = pfn;
        list.Count++;
    }

    private void Unlink(ListHead list, int pfn)
    {
        ref var page = ref frames[pfn];
        if (page.LruPrev >= 0)
        {
            frames[page.LruPrev].LruNext = page.LruNext;
        }
        else
        {
            list.Head = page.LruNext;
        }

        if (page.LruNext >= 0)
        {
            frames[page.LruNext].LruPrev = page.LruPrev;
        }
        else
        {
            list.Tail = page.LruPrev;
        }

        page.LruPrev = -1;
        page.LruNext = -1;
        list.Count--;
    }

    private sealed class ListHead
    {
        public int Head = -1;
        public int Tail = -1;
        public long Count;
    }
}
