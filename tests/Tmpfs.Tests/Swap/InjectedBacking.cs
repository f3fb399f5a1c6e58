using Tmpfs.Memory;

namespace Tmpfs.Tests.Swap;

/// <summary>
/// A swap device in memory whose writes and reads can be made to fail or to corrupt, slot
/// by slot: the faults a disk shows (I/O errors, a full disk, bit rot) on demand.
/// </summary>
internal sealed class InjectedBacking(long slots) : SwapBacking
{
    private readonly byte[] data = new byte[slots * PageFrames.PageSize];
    private int writes;
    private int failedWrites;
    private int pagesWritten;

    /// <summary>
    /// Called for each write I/O (one page, or a run of consecutive slots as reclaim batches
    /// them), with its first slot and its number (from 1): an exception to throw, or null to store it.
    /// </summary>
    public Func<long, int, Exception?>? WriteFault { get; set; }

    /// <summary>Called for each page read: an exception to throw, or null.</summary>
    public Func<long, Exception?>? ReadFault { get; set; }

    /// <summary>Slots whose data comes back with one bit flipped.</summary>
    public HashSet<long> CorruptOnRead { get; } = [];

    /// <summary>Write I/Os attempted.</summary>
    public int Writes => Volatile.Read(ref writes);

    /// <summary>Pages stored by successful writes.</summary>
    public int PagesWritten => Volatile.Read(ref pagesWritten);

    public int FailedWrites => Volatile.Read(ref failedWrites);

    public bool Disposed { get; private set; }

    public static IOException Error(Errno errno) => new($"injected {errno}", (int)errno);

    public override void WritePage(long slot, ReadOnlySpan<byte> page)
    {
        Fault(slot);
        Store(slot, page);
        Interlocked.Increment(ref pagesWritten);
    }

    /// <summary>A run of consecutive slots, as reclaim batches them: one I/O, one chance to fail.</summary>
    public override unsafe void WriteFrames(long firstSlot, ReadOnlySpan<nint> pages)
    {
        Fault(firstSlot);
        for (var k = 0; k < pages.Length; k++)
        {
            Store(firstSlot + k, new ReadOnlySpan<byte>((void*)pages[k], PageFrames.PageSize));
        }

        Interlocked.Add(ref pagesWritten, pages.Length);
    }

    private void Fault(long firstSlot)
    {
        var n = Interlocked.Increment(ref writes);
        if (WriteFault?.Invoke(firstSlot, n) is { } fault)
        {
            Interlocked.Increment(ref failedWrites);
            throw fault;
        }
    }

    private void Store(long slot, ReadOnlySpan<byte> page) =>
        page.CopyTo(data.AsSpan(checked((int)(slot * PageFrames.PageSize))));

    public override void ReadPage(long slot, Span<byte> page)
    {
        if (ReadFault?.Invoke(slot) is { } fault)
        {
            throw fault;
        }

        data.AsSpan(checked((int)(slot * PageFrames.PageSize)), PageFrames.PageSize).CopyTo(page);
        lock (CorruptOnRead)
        {
            if (CorruptOnRead.Contains(slot))
            {
                page[123] ^= 0x40;
            }
        }
    }

    public override void Dispose() => Disposed = true;
}
