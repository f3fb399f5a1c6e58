using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

/// <summary>
/// One thread's reply buffer: a native block that holds the out-header and the reply
/// (structs, directory entries, or file data read straight into it), sent with one
/// writev on the fd the request came from. Nothing is allocated per reply.
/// </summary>
internal sealed unsafe class ReplyWriter : IDisposable
{
    public static readonly int HeaderSize = Unsafe.SizeOf<OutHeader>();

    private readonly int capacity;
    private byte* buffer;

    public ReplyWriter(int payloadCapacity)
    {
        capacity = HeaderSize + payloadCapacity;
        buffer = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, 4096);
    }

    /// <summary>The fd replies go to (the clone this thread reads from).</summary>
    public int Fd { get; set; } = -1;

    /// <summary>Writes the reply somewhere else instead (tests).</summary>
    public Func<ReadOnlySpan<byte>, int>? Sink { get; set; }

    /// <summary>The payload area after the header.</summary>
    public Span<byte> Payload => new(buffer + HeaderSize, capacity - HeaderSize);

    /// <summary>The payload area as a zeroed struct of type <typeparamref name="T"/>.</summary>
    public ref T Struct<T>()
        where T : unmanaged
    {
        ref var s = ref Unsafe.AsRef<T>(buffer + HeaderSize);
        s = default;
        return ref s;
    }

    /// <summary>Sends the header plus <paramref name="payloadLength"/> bytes of the payload; returns 0 or -errno.</summary>
    public int Send(ulong unique, int payloadLength) => SendRaw(unique, 0, payloadLength);

    /// <summary>Sends the header plus the struct <typeparamref name="T"/> filled through <see cref="Struct{T}"/>.</summary>
    public int Send<T>(ulong unique)
        where T : unmanaged => SendRaw(unique, 0, Unsafe.SizeOf<T>());

    /// <summary>An error reply: the header alone with -errno.</summary>
    public int SendError(ulong unique, int errno) => SendRaw(unique, -errno, 0);

    /// <summary>A notification-free header-and-payload write; ENOENT (request gone) is the caller's to ignore.</summary>
    public int SendRaw(ulong unique, int error, int payloadLength)
    {
        var length = HeaderSize + payloadLength;
        ref var header = ref Unsafe.AsRef<OutHeader>(buffer);
        header.Len = (uint)length;
        header.Error = error;
        header.Unique = unique;
        if (Sink is { } sink)
        {
            return sink(new ReadOnlySpan<byte>(buffer, length));
        }

        var iov = stackalloc Native.IoVec[1];
        iov[0].Base = buffer;
        iov[0].Length = (nuint)length;
        while (true)
        {
            var n = Native.Writev(Fd, iov, 1);
            if (n >= 0)
            {
                return 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != Native.EINTR)
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
