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
/// Transparent huge pages (MADV_HUGEPAGE) were measured and left out: on the VM measured, a
/// huge page fault on memory the guest had not touched before cleared 2 MiB at a few hundred
/// MB/s (the hypervisor backing it on first touch), slower than 4 KiB pages from the
/// kernel's recently freed, already backed ones.
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
