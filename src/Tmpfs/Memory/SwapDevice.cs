using System.IO.Hashing;

namespace Tmpfs.Memory;

/// <summary>
/// One swap area (struct swap_info_struct): its slots, a map of who holds each one
/// (swap_map), a checksum per slot, and an allocator that hands out slots from a moving
/// cursor so that reclaim's writes land sequentially on the device where they can.
/// </summary>
/// <remarks>
/// <c>slotLock</c> (the kernel's si->lock) guards the map and the cursor; it is a leaf lock.
/// Checksums are written before the slot's page is published and read after, under the
/// page lock of the page being swapped in, so they need no lock of their own.
/// </remarks>
internal sealed class SwapDevice : IDisposable
{
    /// <summary>The slot is referenced by a page cache entry (a swap value entry).</summary>
    public const byte MapEntry = 1;

    /// <summary>The slot's page is in the swap cache (SWAP_HAS_CACHE).</summary>
    public const byte MapCache = 2;

    private readonly Lock slotLock = new();
    private readonly byte[] map;
    private readonly ulong[] checksums;
    private long cursor;
    private long inUse;

    public SwapDevice(int type, string path, long slots, int priority, SwapBacking backing, bool created)
    {
        Type = type;
        Path = path;
        Slots = slots;
        Priority = priority;
        Backing = backing;
        Created = created;
        map = new byte[slots];
        checksums = new ulong[slots];
    }

    public int Type { get; }

    public string Path { get; }

    public long Slots { get; }

    public int Priority { get; }

    public SwapBacking Backing { get; }

    /// <summary>True when swapon created the file (it is removed at swapoff).</summary>
    public bool Created { get; }

    /// <summary>SWP_WRITEOK: new slots may be allocated (cleared while swapoff runs).</summary>
    public volatile bool WriteOk = true;

    /// <summary>Slots referenced by an entry or the swap cache.</summary>
    public long InUse
    {
        get
        {
            lock (slotLock)
            {
                return inUse;
            }
        }
    }

    /// <summary>
    /// A cluster for one reclaim pass (the kernel's per-cpu swap cluster): up to
    /// <paramref name="max"/> consecutive free slots from the first free one at the cursor
    /// (scan_swap_map_slots), each held for the swap cache and the entry, so that concurrent
    /// passes each write runs of consecutive slots. Returns how many (0 when full); <paramref name="first"/> is the first.
    /// </summary>
    public int AllocateRun(int max, out long first)
    {
        lock (slotLock)
        {
            first = -1;
            if (!WriteOk || inUse >= Slots)
            {
                return 0;
            }

            for (long n = 0; n < Slots; n++)
            {
                var slot = cursor;
                cursor = cursor + 1 == Slots ? 0 : cursor + 1;
                if (map[slot] == 0)
                {
                    first = slot;
                    break;
                }
            }

            if (first < 0)
            {
                return 0;
            }

            var count = 0;
            while (count < max && first + count < Slots && map[first + count] == 0)
            {
                map[first + count] = MapEntry | MapCache;
                count++;
            }

            inUse += count;
            cursor = first + count == Slots ? 0 : first + count;
            return count;
        }
    }

    /// <summary>Clears holders of a slot; the slot is free once nobody holds it.</summary>
    public void Release(long slot, byte holders)
    {
        lock (slotLock)
        {
            var before = map[slot];
            if ((before & holders) != holders)
            {
                throw new InvalidOperationException($"swap slot {Type}:{slot} released twice (map {before}, releasing {holders})");
            }

            map[slot] = (byte)(before & ~holders);
            if (map[slot] == 0)
            {
                inUse--;
            }
        }
    }

    /// <summary>Marks a slot's page as in the swap cache again (swap-in found it on the device).</summary>
    public bool TryAddCache(long slot)
    {
        lock (slotLock)
        {
            if ((map[slot] & MapEntry) == 0 || (map[slot] & MapCache) != 0)
            {
                return false;
            }

            map[slot] |= MapCache;
            return true;
        }
    }

    public byte MapOf(long slot)
    {
        lock (slotLock)
        {
            return map[slot];
        }
    }

    /// <summary>swap_writepage: writes the page and records its checksum.</summary>
    public void Write(long slot, ReadOnlySpan<byte> page)
    {
        checksums[slot] = XxHash3.HashToUInt64(page);
        Backing.WritePage(slot, page);
    }

    /// <summary>
    /// Writes frames (by address) to consecutive slots from <paramref name="firstSlot"/> on in
    /// one I/O, recording each checksum first.
    /// </summary>
    public unsafe void WriteFrames(long firstSlot, ReadOnlySpan<nint> pages)
    {
        for (var k = 0; k < pages.Length; k++)
        {
            checksums[firstSlot + k] = XxHash3.HashToUInt64(new ReadOnlySpan<byte>((void*)pages[k], PageFrames.PageSize));
        }

        Backing.WriteFrames(firstSlot, pages);
    }

    /// <summary>
    /// Reads consecutive slots into frames (by address) in one I/O; the caller checks each
    /// page with <see cref="Verify"/>. A failed read is EIO.
    /// </summary>
    public void ReadFrames(long firstSlot, ReadOnlySpan<nint> pages)
    {
        try
        {
            Backing.ReadFrames(firstSlot, pages);
        }
        catch (IOException e) when (e is not TmpfsException)
        {
            TmpfsException.Throw(Errno.EIO, $"read error on swap slots {Type}:{firstSlot}+{pages.Length}: {e.Message}");
        }
    }

    /// <summary>True when the page read for a slot matches the checksum written with it.</summary>
    public bool Verify(long slot, ReadOnlySpan<byte> page) => XxHash3.HashToUInt64(page) == checksums[slot];

    /// <summary>swap_read_folio: reads the page; a checksum mismatch is EIO, never wrong data.</summary>
    public void Read(long slot, Span<byte> page)
    {
        try
        {
            Backing.ReadPage(slot, page);
        }
        catch (IOException e) when (e is not TmpfsException)
        {
            TmpfsException.Throw(Errno.EIO, $"read error on swap slot {Type}:{slot}: {e.Message}");
        }

        if (XxHash3.HashToUInt64(page) != checksums[slot])
        {
            TmpfsException.Throw(Errno.EIO, $"checksum mismatch on swap slot {Type}:{slot}");
        }
    }

    public void Dispose() => Backing.Dispose();
}
