namespace Tmpfs.Memory;

/// <summary>
/// Per-frame state, the kernel's struct page. Kept in one array indexed by frame number
/// (pfn) so a descriptor costs no object of its own: 32 bytes per 4 KiB frame.
/// </summary>
internal struct PageDescriptor
{
    /// <summary>The mapping that owns the frame while it is in a page cache, else null.</summary>
    public AddressSpace? Mapping;

    /// <summary>The page's index in its mapping (page->index); the swap entry's value in the swap cache.</summary>
    public long Index;

    /// <summary><see cref="PageFlags"/>, changed only with Interlocked operations.</summary>
    public int Flags;

    /// <summary>Extra references (page->_refcount beyond the owner's).</summary>
    public int RefCount;

    /// <summary>LRU list links by frame number; -1 when not on a list.</summary>
    public int LruPrev;

    public int LruNext;
}
