using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tmpfs.Memory;

/// <summary>
/// Where a swap device keeps its slots. The file backing writes with O_DIRECT from the
/// page-aligned frames, so swap I/O bypasses the OS page cache: the budget is the whole
/// memory used and the speed is the disk's. Tests substitute a backing that fails.
/// </summary>
internal abstract unsafe class SwapBacking : IDisposable
{
    /// <summary>Writes one page at a slot; throws IOException (carrying the errno) on failure.</summary>
    public abstract void WritePage(long slot, ReadOnlySpan<byte> page);

    /// <summary>Reads one page from a slot; throws IOException on failure.</summary>
    public abstract void ReadPage(long slot, Span<byte> page);

    /// <summary>
    /// Writes consecutive slots from <paramref name="firstSlot"/> on, one page-aligned frame
    /// (by address) per slot, as one I/O where the backing can (pwritev).
    /// </summary>
    public virtual void WriteFrames(long firstSlot, ReadOnlySpan<nint> pages)
    {
        for (var k = 0; k < pages.Length; k++)
        {
            WritePage(firstSlot + k, new ReadOnlySpan<byte>((void*)pages[k], PageFrames.PageSize));
        }
    }

    /// <summary>Reads consecutive slots into page-aligned frames (by address), as one I/O where it can (preadv).</summary>
    public virtual void ReadFrames(long firstSlot, ReadOnlySpan<nint> pages)
    {
        for (var k = 0; k < pages.Length; k++)
        {
            ReadPage(firstSlot + k, new Span<byte>((void*)pages[k], PageFrames.PageSize));
        }
    }

    public abstract void Dispose();
}

/// <summary>A swap file opened with O_DIRECT.</summary>
internal sealed unsafe partial class SwapFileBacking : SwapBacking
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

    public override void WriteFrames(long firstSlot, ReadOnlySpan<nint> pages) =>
        Vectored(firstSlot, pages, write: true);

    public override void ReadFrames(long firstSlot, ReadOnlySpan<nint> pages) =>
        Vectored(firstSlot, pages, write: false);

    /// <summary>
    /// One pwritev/preadv of whole pages straight from/into the frames (no bounce copy; the
    /// frames are page-aligned, as O_DIRECT wants), continued after a short transfer.
    /// </summary>
    private void Vectored(long firstSlot, ReadOnlySpan<nint> pages, bool write)
    {
        const int IovMax = 1024;
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            var iov = stackalloc IoVec[Math.Min(pages.Length, IovMax)];
            var done = 0; // whole pages transferred
            while (done < pages.Length)
            {
                var count = Math.Min(pages.Length - done, IovMax);
                for (var k = 0; k < count; k++)
                {
                    iov[k] = new IoVec(pages[done + k], PageFrames.PageSize);
                }

                var offset = (firstSlot + done) * PageFrames.PageSize;
                var n = write ? pwritev(fd, iov, count, offset) : preadv(fd, iov, count, offset);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == 4 /* EINTR */)
                    {
                        continue;
                    }

                    throw new IOException($"{(write ? "write to" : "read from")} swap slots {firstSlot + done}+{count}: errno {errno}", errno);
                }

                if (n == 0 || (n & (PageFrames.PageSize - 1)) != 0)
                {
                    // End of file, or a transfer that split a page (O_DIRECT does not): do the
                    // rest a page at a time, which reports a short page as EIO.
                    var whole = (int)(n / PageFrames.PageSize);
                    done += whole;
                    for (; done < pages.Length; done++)
                    {
                        var page = new Span<byte>((void*)pages[done], PageFrames.PageSize);
                        if (write)
                        {
                            WritePage(firstSlot + done, page);
                        }
                        else
                        {
                            ReadPage(firstSlot + done, page);
                        }
                    }

                    return;
                }

                done += (int)(n / PageFrames.PageSize);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    public override void Dispose() => handle.Dispose();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    private static partial nint pwritev(int fd, IoVec* iov, int iovcnt, long offset);

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    private static partial nint preadv(int fd, IoVec* iov, int iovcnt, long offset);

    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int posix_fallocate(int fd, long offset, long length);

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct IoVec(nint address, nint length)
    {
        public readonly nint Base = address;
        public readonly nint Length = length;
    }
}
