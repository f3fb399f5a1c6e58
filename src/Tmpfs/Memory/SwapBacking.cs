using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tmpfs.Memory;

/// <summary>
/// Where a swap device keeps its slots. The file backing writes with O_DIRECT from the
/// page-aligned frames, so swap I/O bypasses the OS page cache: the budget is the whole
/// memory used and the speed is the disk's. Tests substitute a backing that fails.
/// </summary>
internal abstract class SwapBacking : IDisposable
{
    /// <summary>Writes one page at a slot; throws IOException (carrying the errno) on failure.</summary>
    public abstract void WritePage(long slot, ReadOnlySpan<byte> page);

    /// <summary>Reads one page from a slot; throws IOException on failure.</summary>
    public abstract void ReadPage(long slot, Span<byte> page);

    /// <summary>Writes consecutive slots from one page-aligned buffer.</summary>
    public virtual void WriteRun(long firstSlot, ReadOnlySpan<byte> pages)
    {
        for (var k = 0; k < pages.Length / PageFrames.PageSize; k++)
        {
            WritePage(firstSlot + k, pages.Slice(k * PageFrames.PageSize, PageFrames.PageSize));
        }
    }

    /// <summary>Reads consecutive slots into one page-aligned buffer.</summary>
    public virtual void ReadRun(long firstSlot, Span<byte> pages)
    {
        for (var k = 0; k < pages.Length / PageFrames.PageSize; k++)
        {
            ReadPage(firstSlot + k, pages.Slice(k * PageFrames.PageSize, PageFrames.PageSize));
        }
    }

    public abstract void Dispose();
}

/// <summary>A swap file opened with O_DIRECT.</summary>
internal sealed partial class SwapFileBacking : SwapBacking
{
    private const int ODirect = 0x4000; // O_DIRECT on x86-64 and arm64 generic
    private const int OCloexec = 0x80000;
    private const int OReadWrite = 0x2;
    private const int OCreat = 0x40;

    private readonly SafeFileHandle handle;

    private SwapFileBacking(SafeFileHandle handle)
    {
        this.handle = handle;
    }

    /// <summary>
    /// Opens (or creates with mode 0600) a swap file of <paramref name="bytes"/>, with its
    /// blocks allocated up front (a swap file may have no holes, as the kernel's swapon demands).
    /// </summary>
    public static SwapFileBacking Open(string path, long bytes, bool create)
    {
        var flags = OReadWrite | OCloexec | ODirect | (create ? OCreat : 0);
        var fd = open(path, flags, 0x180 /* 0600 */);
        if (fd < 0 && Marshal.GetLastPInvokeError() == 22 /* EINVAL: no O_DIRECT here */)
        {
            fd = open(path, flags & ~ODirect, 0x180);
        }

        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            TmpfsException.Throw((Errno)errno, $"cannot open swap file '{path}'");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var rc = posix_fallocate(fd, 0, bytes);
        if (rc != 0)
        {
            handle.Dispose();
            TmpfsException.Throw((Errno)rc, $"cannot allocate {bytes} bytes for swap file '{path}'");
        }

        return new SwapFileBacking(handle);
    }

    public override void WritePage(long slot, ReadOnlySpan<byte> page) =>
        RandomAccess.Write(handle, page, slot * PageFrames.PageSize);

    public override void ReadPage(long slot, Span<byte> page)
    {
        var n = RandomAccess.Read(handle, page, slot * PageFrames.PageSize);
        if (n != page.Length)
        {
            throw new IOException($"short read from swap slot {slot}", (int)Errno.EIO);
        }
    }

    public override void WriteRun(long firstSlot, ReadOnlySpan<byte> pages) =>
        RandomAccess.Write(handle, pages, firstSlot * PageFrames.PageSize);

    public override void ReadRun(long firstSlot, Span<byte> pages)
    {
        var n = RandomAccess.Read(handle, pages, firstSlot * PageFrames.PageSize);
        if (n != pages.Length)
        {
            throw new IOException($"short read from swap slots {firstSlot}+", (int)Errno.EIO);
        }
    }

    public override void Dispose() => handle.Dispose();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int posix_fallocate(int fd, long offset, long length);
}
