using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

/// <summary>
/// One thread's request buffer: a native block a whole request (header, struct, up to
/// max_write bytes of data) is read into with one read() on /dev/fuse.
/// </summary>
internal sealed unsafe class RequestBuffer : IDisposable
{
    private readonly int capacity;
    private byte* buffer;

    public RequestBuffer(int capacity)
    {
        this.capacity = Math.Max(capacity, FuseProtocol.MinReadBuffer);
        buffer = (byte*)NativeMemory.AlignedAlloc((nuint)this.capacity, 4096);
    }

    public int Capacity => capacity;

    /// <summary>The whole buffer (tests write requests into it).</summary>
    public Span<byte> Span => new(buffer, capacity);

    /// <summary>The first <paramref name="length"/> bytes: the message last read.</summary>
    public ReadOnlySpan<byte> Message(int length) => new(buffer, length);

    /// <summary>
    /// Reads one request: its length, or -errno. EINTR, EAGAIN and ENOENT (a request
    /// aborted before it was read) are retried; ENODEV means the mount is gone.
    /// </summary>
    public int ReadFrom(int fd)
    {
        while (true)
        {
            var n = Native.Read(fd, buffer, (nuint)capacity);
            if (n >= 0)
            {
                return (int)n;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Native.EINTR or Native.EAGAIN or Native.ENOENT))
            {
                return -errno;
            }
        }
    }

    public void Dispose()
    {
        if (buffer != null)
        {
            NativeMemory.AlignedFree(buffer);
            buffer = null;
        }
    }
}
