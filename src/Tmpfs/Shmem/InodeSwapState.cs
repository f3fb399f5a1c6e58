namespace Tmpfs.Shmem;

/// <summary>
/// The swap side of shmem_inode_info: the swapped count, the swaplist links, swapoff's
/// stop_eviction and the swap readahead hint. Most inodes never have a page on swap, so this
/// is an object of its own, made the first time one is needed (<see cref="Inode.Swap"/>) and
/// kept for the inode's life; an inode without it reads as swapped 0, off the swaplist, no
/// swapoff holding it. That keeps every inode 32 bytes smaller (224 -> 192 bytes; 291 -> 260
/// bytes per empty file in `-- overhead`, docs/benchmarks.md).
/// </summary>
internal sealed class InodeSwapState
{
    /// <summary>Pages of the inode on swap (info->swapped); changed with Interlocked.</summary>
    public long Swapped;

    /// <summary>
    /// Swap readahead state (a hint, read and written without a lock): the index just past
    /// the last swap-in run, and that run's window. A swap-in there is sequential.
    /// </summary>
    public long ReadaheadNext = -1;

    public int ReadaheadWindow;

    /// <summary>Swapoff is working on this inode: eviction waits (info->stop_eviction). Guarded by the swaplist lock.</summary>
    public int StopEviction;

    /// <summary>Links on the swaplist, guarded by the swaplist lock.</summary>
    public Inode? Prev;

    public Inode? Next;

    public bool OnSwaplist;
}
