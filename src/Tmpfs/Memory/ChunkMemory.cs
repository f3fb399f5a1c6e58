using System.Runtime.InteropServices;

namespace Tmpfs.Memory;

/// <summary>
/// Native memory for the frame chunks of <see cref="PageFrames"/>: on Linux an anonymous
/// mapping of its own (2 MiB-aligned), whose frames are faulted in with one
/// MADV_POPULATE_WRITE call per batch of newly carved frames (<see cref="Populate"/>) rather
/// than by a page fault per 4 KiB inside the first copy. A write into a fresh budget ran at
/// a few hundred MiB/s for those faults alone (docs/benchmarks.md).
/// </summary>
/// <remarks>
/// Each chunk asks for transparent huge pages (MADV_HUGEPAGE; the system's setting still
/// decides), as the kernel reaches every page frame through its direct map, which huge
/// pages map. With 4 KiB pages a random 4 KiB read of a large file missed the TLB on the
/// frame, a page walk under the hypervisor's nested paging: 747-774 ns against 565-585 ns
/// with huge pages, and 1 MiB reads 61-69 ms against 47-49 ms per GiB (smoke A/B,
/// docs/benchmarks.md). The price is the first touch of guest memory the hypervisor has
/// never backed: populating 1 GiB of huge pages took 2.35 s there, against 0.32 s with
/// 4 KiB pages; memory the guest has used before (huge pages recycled) took 0.10 s.
/// </remarks>
internal static unsafe partial class ChunkMemory
{
    private const nuint HugePage = 2 << 20;
    private const int ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;
    private const int MadvHugePage = 14;
    private const int MadvPopulateWrite = 23; // Linux 5.14
    private static int populateWorks = OperatingSystem.IsLinux() ? 1 : 0;

    /// <summary>A page-aligned block of <paramref name="bytes"/> (a multiple of 4 KiB), not yet touched.</summary>
    public static byte* Allocate(nuint bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            return (byte*)NativeMemory.AlignedAlloc(bytes, PageFrames.PageSize);
        }

        // Map 2 MiB more than needed and trim both ends, so the block starts on a 2 MiB
        // boundary (one page-table page maps it all).
        var raw = (nuint)mmap(null, bytes + HugePage, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (raw == nuint.MaxValue)
        {
            throw new OutOfMemoryException($"mmap of {bytes} bytes failed (errno {Marshal.GetLastPInvokeError()})");
        }

        var start = (raw + HugePage - 1) & ~(HugePage - 1);
        if (start > raw)
        {
            _ = munmap((void*)raw, start - raw);
        }

        var tail = raw + bytes + HugePage - (start + bytes);
        if (tail > 0)
        {
            _ = munmap((void*)(start + bytes), tail);
        }

        // Whole 2 MiB pieces only; an error (THP compiled out) just leaves 4 KiB pages.
        var huge = bytes & ~(HugePage - 1);
        if (huge > 0)
        {
            _ = madvise((void*)start, huge, MadvHugePage);
        }

        return (byte*)start;
    }

    /// <summary>
    /// Faults in [<paramref name="start"/>, +<paramref name="bytes"/>) for writing, in one
    /// call (MADV_POPULATE_WRITE). Only a speed-up: on kernels without it the first touch
    /// faults the pages in as usual.
    /// </summary>
    public static void Populate(byte* start, nuint bytes)
    {
        if (Volatile.Read(ref populateWorks) != 0 && madvise(start, bytes, MadvPopulateWrite) != 0 &&
            Marshal.GetLastPInvokeError() == 22 /* EINVAL: advice unknown to this kernel */)
        {
            Volatile.Write(ref populateWorks, 0);
        }
    }

    /// <summary>Returns a block from <see cref="Allocate"/> of the same size.</summary>
    public static void Free(byte* block, nuint bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            NativeMemory.AlignedFree(block);
            return;
        }

        _ = munmap(block, bytes);
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int madvise(void* address, nuint length, int advice);
}
