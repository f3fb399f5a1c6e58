namespace Tmpfs.Memory;

/// <summary>
/// A swap entry (swp_entry_t): which device and which slot on it. Packed into a long so
/// that a page cache slot can hold it as a value entry.
/// </summary>
internal readonly record struct SwapEntry(int Type, long Offset)
{
    private const int OffsetBits = 48;

    public long Value => ((long)Type << OffsetBits) | Offset;

    public static SwapEntry FromValue(long value) => new((int)(value >> OffsetBits), value & ((1L << OffsetBits) - 1));

    public override string ToString() => $"swap {Type}:{Offset}";
}
