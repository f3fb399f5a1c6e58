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
    /// Reads one request: its length, or -errno. EINTR and ENOENT (a request aborted before
    /// it was read) are retried; ENODEV means the mount is gone. On a non-blocking fd, an
    /// empty queue is polled for up to <paramref name="spinTicks"/> (Stopwatch ticks), then
    /// waited for with poll(2).
    /// </summary>
    /// <remarks>
    /// Why poll before sleeping: one FUSE round trip wakes this thread once per request. On a
    /// quiet VM the vCPU halts between requests and each wake-up costs tens of microseconds
    /// (measured here: 4 KiB random reads 17k/s quiet, 28k/s with idle-priority CPU burners
    /// keeping the vCPUs out of halt). The next request of a synchronous caller usually comes
    /// within microseconds of our reply, so a short poll catches it without the halt; a
    /// caller that pauses longer costs one bounded poll per request, as the guest kernel's own
    /// haltpoll does. When runnable threads outnumber the CPUs the worker passes 0 (see
    /// <see cref="RunQueueSampler"/>): a poll would then only take a CPU from the caller,
    /// and wake-ups are cheap on busy CPUs anyway.
    /// </remarks>
    public int ReadFrom(int fd, long spinTicks = 0)
    {
        long start = 0;
        while (true)
        {
            var n = Native.Read(fd, buffer, (nuint)capacity);
            if (n >= 0)
            {
                return (int)n;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Native.EAGAIN)
            {
                if (spinTicks > 0)
                {
                    var now = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (start == 0)
                    {
                        start = now;
                    }

                    if (now - start < spinTicks)
                    {
                        Thread.SpinWait(16);
                        continue;
                    }
                }

                WaitReadable(fd);
                start = 0;
                continue;
            }

            if (errno is not (Native.EINTR or Native.ENOENT))
            {
                return -errno;
            }
        }
    }

    /// <summary>poll(2) until the fd is readable or reports an error (the read then says which).</summary>
    private static void WaitReadable(int fd)
    {
        Native.PollFd pfd = default;
        pfd.Fd = fd;
        pfd.Events = Native.POLLIN;
        Native.Poll(&pfd, 1, -1);
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
