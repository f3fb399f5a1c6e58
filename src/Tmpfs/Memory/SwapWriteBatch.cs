namespace Tmpfs.Memory;

/// <summary>
/// The writes one reclaim pass queues (the kernel's plugged bios): pages bound for swap,
/// submitted together so that consecutive slots of a device go out in one O_DIRECT
/// pwritev straight from the (page-aligned) frames.
/// </summary>
internal sealed unsafe class SwapWriteBatch : IDisposable
{
    /// <summary>
    /// Pages per pass: 1 MiB, so that a streaming swap-out writes 1 MiB per I/O (the kernel
    /// takes SWAP_CLUSTER_MAX = 32 per pass but merges the plugged bios behind it).
    /// </summary>
    public const int MaxPages = 256;

    private readonly PageFrames frames;
    private readonly QueuedWrite[] items = new QueuedWrite[MaxPages];

    public SwapWriteBatch(PageFrames frames)
    {
        this.frames = frames;
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

    public void Clear() => Count = 0;

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
