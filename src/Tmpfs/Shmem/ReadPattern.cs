namespace Tmpfs.Shmem;

/// <summary>
/// Where a read stands against the handle's last one (file_ra_state.prev_pos), which is all
/// the engine keeps of the kernel's readahead state. It only picks how the pages are copied:
/// the bytes read are the same either way.
/// </summary>
internal enum ReadPattern
{
    /// <summary>Not where the last read ended: the page is likely out of the cache and not the next in line.</summary>
    Random,

    /// <summary>A first read from offset 0: the start of a sequential read of a file that may be cold.</summary>
    Start,

    /// <summary>Where the last read ended: the next pages in line, which the CPU's own prefetcher follows.</summary>
    Continuing,
}
