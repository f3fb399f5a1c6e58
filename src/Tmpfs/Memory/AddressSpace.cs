namespace Tmpfs.Memory;

/// <summary>
/// The owner of cached pages, as the kernel's struct address_space: the memory layer
/// knows a page's owner and index, never what a file is. Filesystems derive from it.
/// </summary>
internal abstract class AddressSpace
{
}
