namespace Tmpfs.Memory;

/// <summary>Page descriptor flag bits, named as the kernel's PG_* flags.</summary>
[Flags]
internal enum PageFlags
{
    None = 0,

    /// <summary>PG_locked: the page lock is held.</summary>
    Locked = 1 << 0,

    /// <summary>PG_waiters: someone sleeps on the page lock; unlock must wake the hashed wait queue.</summary>
    Waiters = 1 << 1,

    /// <summary>PG_dirty: contents newer than any swap copy.</summary>
    Dirty = 1 << 2,

    /// <summary>PG_referenced: touched since reclaim last looked (second chance).</summary>
    Referenced = 1 << 3,

    /// <summary>PG_active: on the active LRU list.</summary>
    Active = 1 << 4,

    /// <summary>PG_lru: on an LRU list at all.</summary>
    Lru = 1 << 5,

    /// <summary>PG_swapcache: the page is in the swap cache, not a file's page cache.</summary>
    SwapCache = 1 << 6,

    /// <summary>PG_writeback: a swap write of this page is in flight.</summary>
    Writeback = 1 << 7,

    /// <summary>PG_uptodate: the contents are valid.</summary>
    Uptodate = 1 << 8,
}
