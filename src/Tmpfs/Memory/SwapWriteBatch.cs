namespace Tmpfs.Memory;

/// <summary>
/// The writes one reclaim pass queues (the kernel's plugged bios): pages bound for swap,
/// submitted together so that consecutive slots of a device go out in one O_DIRECT
/// pwritev straight from the (page-aligned) frames.
/// </summary>
internal sealed unsafe class SwapWriteBatch : IDisposable
{
    /// <summary>
    /// Pages per pass at most: 4 MiB, so that a streaming swap-out writes 4 MiB per I/O (the
    /// kernel takes SWAP_CLUSTER_MAX = 32 per pass but merges the plugged bios behind it).
    /// Fewer I/Os, each larger, also leave fewer gaps where the device waits for a thread
    /// to be scheduled on a busy machine.
    /// </summary>
    public const int MaxPages = 1024;

    private readonly PageFrames frames;
    private readonly SwapSpace swap;
    private readonly QueuedWrite[] items = new QueuedWrite[MaxPages];
    private int expected;
    private SwapEntry cluster;
    private int clusterLeft;

    public SwapWriteBatch(PageFrames frames, SwapSpace swap)
    {
        this.frames = frames;
        this.swap = swap;
    }

    /// <summary>How many pages this pass may still hand to writepage (sizes the slot cluster).</summary>
    public void Expect(int pages) => expected = pages;

    /// <summary>
    /// folio_alloc_swap for writepage: the next slot of this pass's cluster, taking a new
    /// cluster as needed, so one pass's pages land in consecutive slots however many passes
    /// run at once. Null when swap is full. Slots not taken go back at <see cref="Clear"/>.
    /// </summary>
    public SwapEntry? TakeSlot()
    {
        if (clusterLeft > 0 && swap.Device(cluster.Type) is not { WriteOk: true })
        {
            ReleaseCluster(); // swapoff began: no more pages to that device
        }

        if (clusterLeft == 0)
        {
            cluster = swap.AllocateRun(Math.Clamp(expected, 1, MaxPages), out clusterLeft);
            if (clusterLeft == 0)
            {
                return null;
            }
        }

        var entry = cluster;
        cluster = new SwapEntry(entry.Type, entry.Offset + 1);
        clusterLeft--;
        expected--;
        return entry;
    }

    public int Count { get; private set; }

    public ref readonly QueuedWrite this[int i] => ref items[i];

    /// <summary>Queues the write of a locked swap-cache page to its slot.</summary>
    public void Add(SwapDevice device, SwapEntry entry, int pfn, AddressSpace owner, long index)
    {
        items[Count++] = new QueuedWrite(device, entry, pfn, owner, index);
    }

    /// <summary>
    /// Writes every queued page, runs of consecutive slots in one write each; marks each
    /// item's outcome. Checksums are recorded per slot by the device.
    /// </summary>
    public void Submit()
    {
        Span<nint> pages = stackalloc nint[MaxPages];
        var i = 0;
        while (i < Count)
        {
            var run = 1;
            while (i + run < Count && items[i + run].Device == items[i].Device &&
                   items[i + run].Entry.Offset == items[i].Entry.Offset + run)
            {
                run++;
            }

            var ok = true;
            try
            {
                for (var k = 0; k < run; k++)
                {
                    pages[k] = (nint)frames.Address(items[i + k].Pfn);
                }

                items[i].Device.WriteFrames(items[i].Entry.Offset, pages[..run]);
            }
            catch (IOException)
            {
                ok = false;
            }
            catch (UnauthorizedAccessException)
            {
                ok = false;
            }

            for (var k = 0; k < run; k++)
            {
                items[i + k].Written = ok;
            }

            i += run;
        }
    }

    /// <summary>Empties the batch and frees the slots of its cluster no page took.</summary>
    public void Clear()
    {
        Count = 0;
        expected = 0;
        ReleaseCluster();
    }

    private void ReleaseCluster()
    {
        while (clusterLeft > 0)
        {
            swap.Device(cluster.Type)?.Release(cluster.Offset, SwapDevice.MapEntry | SwapDevice.MapCache);
            cluster = new SwapEntry(cluster.Type, cluster.Offset + 1);
            clusterLeft--;
        }
    }

    public void Dispose()
    {
    }

    internal struct QueuedWrite(SwapDevice device, SwapEntry entry, int pfn, AddressSpace owner, long index)
    {
        public readonly SwapDevice Device = device;
        public readonly SwapEntry Entry = entry;
        public readonly int Pfn = pfn;
        public readonly AddressSpace Owner = owner;
        public readonly long Index = index;
        public bool Written;
    }
}
