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
/// Transparent huge pages (MADV_HUGEPAGE) were measured twice and left out. They would model
/// the kernel's direct map, and in the steady state they pay: a random 4 KiB read of a large
/// file stops missing the TLB under nested paging (smoke: 747-774 ns with 4 KiB pages,
/// 565-585 ns with huge ones; 1 MiB reads 61-69 against 47-49 ms per GiB). But on the VM
/// measured, huge pages come from guest memory the hypervisor has never backed, and their
/// first touch runs at a few hundred MB/s: populating 1 GiB took 2.35 s against 0.32 s for
/// 4 KiB pages, which the kernel recycles from recently freed, already backed ones. Every
/// budget that grows pays it: swapoff into a grown budget fell from 775-1045 MB/s to
/// 319-366 MB/s (bench/Tmpfs.SwapBench, A/B), below the kernel's tmpfs times three.
/// </remarks>
internal static unsafe partial class ChunkMemory
{
    private const nuint HugePage = 2 << 20;
    private const int ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;
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
