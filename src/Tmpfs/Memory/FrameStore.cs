namespace Tmpfs.Memory;

/// <summary>
/// How a write stores its bytes into a frame (<see cref="PageCopy.CopyIn"/>): the fastest way
/// depends on whether the frame's lines are in the cache and whether anyone needs what they
/// held, and it was measured in place, not guessed (docs/benchmarks.md, "Stores and loads
/// measured in place").
/// </summary>
internal enum FrameStore
{
    /// <summary>
    /// Vector loads and stores: a page being rewritten in place, likely cached (a small
    /// file's page), where a plain loop is the cheapest copy.
    /// </summary>
    Cached,

    /// <summary>
    /// libc's memmove (Span.CopyTo; ordinary stores at these sizes, <c>rep movsb</c> or a vector
    /// loop as glibc picks for the CPU): a frame just taken from the free list,
    /// whose old contents nobody needs. In place in the write path it beat both other ways,
    /// whether the frame had been freed a moment or long ago (SmallFiles.Write 980 -> 634 ns,
    /// Sequential4K.Write 163 -> 104 ms per GiB against non-temporal stores; smoke A/B).
    /// </summary>
    Fresh,

    /// <summary>
    /// Non-temporal stores, bypassing the cache; the writer fences (<see cref="PageCopy.Fence"/>)
    /// before the page is published. For whole pages overwritten in a file larger than the
    /// cache, which are out of it, or by a write of 1 MiB and more, which would evict itself:
    /// no read for ownership of lines about to be replaced wholly (random 4 KiB overwrites of
    /// a 256 MiB file: 554 against 716-736 ns by memmove).
    /// </summary>
    NonTemporal,
}
