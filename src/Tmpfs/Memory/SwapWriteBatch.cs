using System.Runtime.InteropServices;

namespace Tmpfs.Memory;

/// <summary>
/// The writes one reclaim pass queues (the kernel's plugged bios): pages bound for swap,
/// submitted together so that consecutive slots of a device go out in one O_DIRECT write
/// through a page-aligned bounce buffer.
/// </summary>
internal sealed unsafe class SwapWriteBatch : IDisposable
{
    public const int MaxPages = 32; // SWAP_CLUSTER_MAX

    private readonly PageFrames frames;
    private readonly QueuedWrite[] items = new QueuedWrite[MaxPages];
    private byte* bounce;

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
                if (run == 1)
                {
                    items[i].Device.Write(items[i].Entry.Offset, frames.GetSpan(items[i].Pfn));
                }
                else
                {
                    if (bounce == null)
                    {
                        bounce = (byte*)NativeMemory.AlignedAlloc((nuint)(MaxPages * PageFrames.PageSize), PageFrames.PageSize);
                    }

                    var span = new Span<byte>(bounce, run * PageFrames.PageSize);
                    for (var k = 0; k < run; k++)
                    {
                        frames.GetSpan(items[i + k].Pfn).CopyTo(span.Slice(k * PageFrames.PageSize, PageFrames.PageSize));
                    }

                    items[i].Device.WriteRun(items[i].Entry.Offset, span);
                }
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
        if (bounce != null)
        {
            NativeMemory.AlignedFree(bounce);
            bounce = null;
        }
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
