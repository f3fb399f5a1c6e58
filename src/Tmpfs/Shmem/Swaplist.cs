using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// shmem_swaplist: the inodes that may have pages on swap, so that swapoff can find them
/// without scanning every inode of every mount. An inode joins in writepage, while the
/// page lock of a page still in its page cache pins it (the seed's fix); it leaves when
/// evicted, or when swapoff finds nothing of it swapped (the prune).
/// </summary>
/// <remarks>
/// <see cref="ListLock"/> is shmem_swaplist_mutex: it guards the links and
/// <see cref="Inode.StopEviction"/> waits. It is taken inside a page lock (writepage) and
/// is never held while taking a page lock: swapoff drops it, with the inode held by
/// stop_eviction rather than a reference count, before swapping pages in.
/// </remarks>
internal sealed class Swaplist
{
    private Inode? head;
    private Inode? tail;

    public object ListLock { get; } = new();

    public int Count { get; private set; }

    public Inode? First => head;

    /// <summary>list_move_tail: adds the inode at the tail, or moves it there.</summary>
    public void MoveTail(Inode inode)
    {
        Debug.Assert(Monitor.IsEntered(ListLock), "swaplist lock not held");
        var state = inode.Swap;
        if (state.OnSwaplist)
        {
            Unlink(inode);
        }

        state.Prev = tail;
        state.Next = null;
        if (tail is null)
        {
            head = inode;
        }
        else
        {
            tail.Swap.Next = inode;
        }

        tail = inode;
        state.OnSwaplist = true;
        Count++;
    }

    /// <summary>list_del_init: removes the inode if it is on the list.</summary>
    public void Remove(Inode inode)
    {
        Debug.Assert(Monitor.IsEntered(ListLock), "swaplist lock not held");
        if (inode.OnSwaplist)
        {
            Unlink(inode);
        }
    }

    /// <summary>Every inode on the list (for invariant checks).</summary>
    public List<Inode> Snapshot()
    {
        lock (ListLock)
        {
            var list = new List<Inode>(Count);
            for (var i = head; i is not null; i = i.SwapNext)
            {
                list.Add(i);
            }

            return list;
        }
    }

    private void Unlink(Inode inode)
    {
        var state = inode.Swap; // on the list, so it has one
        if (state.Prev is null)
        {
            head = state.Next;
        }
        else
        {
            state.Prev.Swap.Next = state.Next;
        }

        if (state.Next is null)
        {
            tail = state.Prev;
        }
        else
        {
            state.Next.Swap.Prev = state.Prev;
        }

        state.Prev = null;
        state.Next = null;
        state.OnSwaplist = false;
        Count--;
    }
}
