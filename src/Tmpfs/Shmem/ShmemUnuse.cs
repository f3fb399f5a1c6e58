using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>Unuse (shmem_unuse_inode): swapoff bringing the pages of one device back, run by run.</summary>
internal static partial class ShmemSwap
{
    /// <summary>
    /// shmem_unuse_inode: swaps in every page of <paramref name="inode"/> that is on device
    /// <paramref name="type"/>. The caller holds the inode by stop_eviction, not the list lock.
    /// </summary>
    public static void UnuseInode(Inode inode, int type)
    {
        Interleaving.Enter(inode);
        try
        {
            if (inode.Evicted)
            {
                return;
            }

            // The runs of consecutive pages in consecutive slots, swapped in by two threads at
            // once: one run's read is on the device while the other's pages are installed.
            // (Not under a systematic-test scheduler: it controls only its own tasks.)
            var runs = CollectRuns(inode, type);
            if (runs.Count > 1 && Interleaving.Current is null)
            {
                SwapInRuns(inode, runs);
            }

            // Then in order, whatever is left (entries that moved meanwhile).
            long index = 0;
            while (true)
            {
                Interleaving.Point();
                bool found;
                long at, entry;
                using (inode.MappingLock.Hold())
                {
                    found = NextSwapEntry(inode, index, type, out at, out entry);
                }

                if (!found)
                {
                    return;
                }

                var pfn = SwapIn(inode, at, entry, MaxRun(inode), allowReclaim: true);
                if (pfn >= 0)
                {
                    inode.Sb.Frames.PutPage(pfn);
                    index = at + 1;
                }
            }
        }
        finally
        {
            Monitor.Exit(inode);
        }
    }

    /// <summary>The first index and entry of each run (consecutive pages in consecutive slots) on <paramref name="type"/>.</summary>
    private static List<(long Index, long Entry)> CollectRuns(Inode inode, int type)
    {
        var runs = new List<(long Index, long Entry)>();
        var max = MaxRun(inode);
        using (inode.MappingLock.Hold())
        {
            long from = 0, lastIndex = -2, lastSlot = -2;
            var length = 0;
            while (NextSwapEntry(inode, from, type, out var at, out var entry))
            {
                var slot = SwapEntry.FromValue(PageCacheTree.ToSwap(entry)).Offset;
                if (length > 0 && length < max && at == lastIndex + 1 && slot == lastSlot + 1)
                {
                    length++;
                }
                else
                {
                    runs.Add((at, entry));
                    length = 1;
                }

                lastIndex = at;
                lastSlot = slot;
                from = at + 1;
            }
        }

        return runs;
    }

    /// <summary>Swaps in <paramref name="runs"/> on this thread and one helper; the first error is thrown.</summary>
    private static void SwapInRuns(Inode inode, List<(long Index, long Entry)> runs)
    {
        var frames = inode.Sb.Frames;
        var max = MaxRun(inode);
        var next = -1;
        TmpfsException? error = null;
        void Work()
        {
            int i;
            while (Volatile.Read(ref error) is null && (i = Interlocked.Increment(ref next)) < runs.Count)
            {
                try
                {
                    var pfn = SwapIn(inode, runs[i].Index, runs[i].Entry, max, allowReclaim: true);
                    if (pfn >= 0)
                    {
                        frames.PutPage(pfn);
                    }
                }
                catch (TmpfsException e)
                {
                    Interlocked.CompareExchange(ref error, e, null);
                }
            }
        }

        var helper = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Work();
        helper.Wait();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    private static bool NextSwapEntry(Inode inode, long from, int type, out long index, out long entry)
    {
        while (inode.Pages.NextPresent(from, long.MaxValue, out index, out entry))
        {
            if (PageCacheTree.IsSwap(entry) && SwapEntry.FromValue(PageCacheTree.ToSwap(entry)).Type == type)
            {
                return true;
            }

            from = index + 1;
        }

        return false;
    }
}
