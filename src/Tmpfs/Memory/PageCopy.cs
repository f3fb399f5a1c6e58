using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tmpfs.Memory;

/// <summary>
/// Copies between callers' buffers and page frames (the kernel's copy_from_user/copy_to_user
/// into a folio) three ways: a vector loop, libc's memmove (Span.CopyTo hands it 2 KiB and
/// more; at page size it copies with <c>rep movsb</c> or its own vector loop, as it picks
/// for the CPU) and non-temporal stores. Which one is the
/// caller's choice, measured in place (docs/benchmarks.md): <see cref="FrameStore"/> for
/// writes, the sequential flag of <see cref="CopyOut"/> for reads.
/// </summary>
/// <remarks>
/// Non-temporal stores are weakly ordered: the caller ends such a write with
/// <see cref="Fence"/> before the data is published (the kernel's memcpy_flushcache is
/// followed by a wmb the same way). memmove needs no fence: at page sizes glibc copies with
/// ordinary stores (rep movsb or a vector loop, as it picks for the CPU), which the lock and
/// the reference count that publish the page order like any others.
/// </remarks>
internal static unsafe class PageCopy
{
    private const int Block = 256; // four 64-byte lines per loop step

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> (inside a frame) the way <paramref name="store"/> says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // no tier-0 phase: its vector calls are not inlined
    public static void CopyIn(ReadOnlySpan<byte> source, byte* destination, FrameStore store)
    {
        var length = (nuint)source.Length;
        var blocks = length & ~(nuint)(Block - 1);
        if (blocks == 0 || store == FrameStore.Fresh || !Vector256.IsHardwareAccelerated)
        {
            source.CopyTo(new Span<byte>(destination, source.Length));
            return;
        }

        ref var from = ref MemoryMarshal.GetReference(source);
        if (store == FrameStore.NonTemporal && ((nint)destination & 63) == 0)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (nuint i = 0; i < blocks; i += Block)
                {
                    var a = Vector512.LoadUnsafe(ref from, i);
                    var b = Vector512.LoadUnsafe(ref from, i + 64);
                    var c = Vector512.LoadUnsafe(ref from, i + 128);
                    var d = Vector512.LoadUnsafe(ref from, i + 192);
                    a.StoreAlignedNonTemporal(destination + i);
                    b.StoreAlignedNonTemporal(destination + i + 64);
                    c.StoreAlignedNonTemporal(destination + i + 128);
                    d.StoreAlignedNonTemporal(destination + i + 192);
                }
            }
            else
            {
                for (nuint i = 0; i < blocks; i += Block / 2)
                {
                    var a = Vector256.LoadUnsafe(ref from, i);
                    var b = Vector256.LoadUnsafe(ref from, i + 32);
                    var c = Vector256.LoadUnsafe(ref from, i + 64);
                    var d = Vector256.LoadUnsafe(ref from, i + 96);
                    a.StoreAlignedNonTemporal(destination + i);
                    b.StoreAlignedNonTemporal(destination + i + 32);
                    c.StoreAlignedNonTemporal(destination + i + 64);
                    d.StoreAlignedNonTemporal(destination + i + 96);
                }
            }
        }
        else
        {
            CopyBlocks(ref from, ref *destination, blocks);
        }

        if (blocks < length)
        {
            source[(int)blocks..].CopyTo(new Span<byte>(destination + blocks, (int)(length - blocks)));
        }
    }

    /// <summary>
    /// Copies <paramref name="destination"/>.Length bytes from <paramref name="source"/> (inside
    /// a frame). A <paramref name="sequential"/> read (the handle's reads follow each other,
    /// as the kernel's readahead state tells) goes to libc's memmove, whose <c>rep movsb</c>
    /// (it aligns the destination first) streams a page the cache does not hold faster than
    /// the vector loop: on the AMD EPYC measured, 4 KiB from pages read in order took 134 ns
    /// against 194 ns. The loop stays for the rest: 36 against 54 ns on a cached page, 400
    /// against 429 ns on pages read at random (`-- copies`, docs/benchmarks.md).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // no tier-0 phase: its vector calls are not inlined
    public static void CopyOut(byte* source, Span<byte> destination, bool sequential = false)
    {
        var length = (nuint)destination.Length;
        var blocks = length & ~(nuint)(Block - 1);
        if (blocks == 0 || sequential || !Vector256.IsHardwareAccelerated)
        {
            new ReadOnlySpan<byte>(source, destination.Length).CopyTo(destination);
            return;
        }

        CopyBlocks(ref *source, ref MemoryMarshal.GetReference(destination), blocks);
        if (blocks < length)
        {
            new ReadOnlySpan<byte>(source + blocks, (int)(length - blocks)).CopyTo(destination[(int)blocks..]);
        }
    }

    /// <summary>
    /// Issues a non-temporal prefetch (PREFETCHNTA: into the first-level cache, not kept in
    /// the outer ones, as a copy read once wants) for every 64-byte line of
    /// [<paramref name="source"/>, +<paramref name="length"/>). The misses then overlap instead
    /// of queueing behind the copy's loads; a no-op where the instruction does not exist.
    /// </summary>
    public static void Prefetch(byte* source, int length)
    {
        if (!Sse.IsSupported || length <= 0)
        {
            return;
        }

        var line = (byte*)((nint)source & ~(nint)63);
        var end = source + length;
        for (; line < end; line += 64)
        {
            Sse.PrefetchNonTemporal(line);
        }
    }

    /// <summary>
    /// Orders the stores of earlier <see cref="FrameStore.NonTemporal"/> copies before the stores that
    /// follow (sfence); a no-op where stores are never weakly ordered this way.
    /// </summary>
    public static void Fence()
    {
        if (Sse.IsSupported)
        {
            Sse.StoreFence();
        }
        else
        {
            Interlocked.MemoryBarrier();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // no tier-0 phase: its vector calls are not inlined
    private static void CopyBlocks(ref byte from, ref byte to, nuint blocks)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (nuint i = 0; i < blocks; i += Block)
            {
                var a = Vector512.LoadUnsafe(ref from, i);
                var b = Vector512.LoadUnsafe(ref from, i + 64);
                var c = Vector512.LoadUnsafe(ref from, i + 128);
                var d = Vector512.LoadUnsafe(ref from, i + 192);
                a.StoreUnsafe(ref to, i);
                b.StoreUnsafe(ref to, i + 64);
                c.StoreUnsafe(ref to, i + 128);
                d.StoreUnsafe(ref to, i + 192);
            }

            return;
        }

        for (nuint i = 0; i < blocks; i += 128)
        {
            var a = Vector256.LoadUnsafe(ref from, i);
            var b = Vector256.LoadUnsafe(ref from, i + 32);
            var c = Vector256.LoadUnsafe(ref from, i + 64);
            var d = Vector256.LoadUnsafe(ref from, i + 96);
            a.StoreUnsafe(ref to, i);
            b.StoreUnsafe(ref to, i + 32);
            c.StoreUnsafe(ref to, i + 64);
            d.StoreUnsafe(ref to, i + 96);
        }
    }
}
