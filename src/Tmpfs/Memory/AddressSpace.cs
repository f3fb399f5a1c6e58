namespace Tmpfs.Memory;

/// <summary>
/// The owner of cached pages, as the kernel's struct address_space: the memory layer
/// knows a page's owner and index, never what a file is. Filesystems derive from it and
/// give reclaim their writepage (address_space_operations.writepage).
/// </summary>
internal abstract class AddressSpace
{
    /// <summary>
    /// writepage: reclaim hands over a page it has isolated (one reference of its own) and
    /// locked, still in this mapping's page cache. The mapping either moves the page into the
    /// swap cache and queues its write on <paramref name="io"/> (returning true; the page
    /// stays locked until the write completes), or declines (false: keep it resident).
    /// </summary>
    public abstract bool WritePage(int pfn, SwapWriteBatch io);

    /// <summary>
    /// The queued write of a page failed: put it back into the page cache, resident and
    /// dirty, as if writepage had declined. The page is still locked.
    /// </summary>
    public abstract void WritePageFailed(int pfn, SwapEntry entry, long index);
}
