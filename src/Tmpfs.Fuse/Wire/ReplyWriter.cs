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

    /// <summary>Segments of a vectored reply: the header, then one per page (a 1 MiB READ at an unaligned offset touches 257).</summary>
    public const int MaxSegments = 260;

    /// <summary>A page of zeros, shared, never freed: what holes are sent from.</summary>
    public static readonly byte* ZeroPage = (byte*)NativeMemory.AllocZeroed(4096);

    private readonly int capacity;
    private byte* buffer;
    private Native.IoVec* vectors;
    private int segments;
    private int vectorBytes;

    public ReplyWriter(int payloadCapacity)
    {
        capacity = HeaderSize + payloadCapacity;
        buffer = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, 4096);
        vectors = (Native.IoVec*)NativeMemory.Alloc((nuint)(MaxSegments * sizeof(Native.IoVec)));
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
        return WriteAll(iov, 1);
    }

    /// <summary>Starts a vectored reply: the header, then the segments added with <see cref="Add"/>.</summary>
    public void BeginVector()
    {
        segments = 1;
        vectorBytes = 0;
    }

    /// <summary>
    /// Adds <paramref name="length"/> bytes at <paramref name="data"/> to the vectored reply.
    /// The memory must stay valid and unchanged in place until <see cref="SendVector"/> returns
    /// (page frames the caller holds references on).
    /// </summary>
    public void Add(byte* data, int length)
    {
        if (segments == MaxSegments)
        {
            throw new InvalidOperationException("too many reply segments");
        }

        vectors[segments].Base = data;
        vectors[segments].Length = (nuint)length;
        segments++;
        vectorBytes += length;
    }

    /// <summary>
    /// Adds bytes of a page frame <paramref name="file"/>'s <see cref="FileHandle.GetPages"/>
    /// returned with a reference (-1: zeros). Frames are native memory that never moves, and
    /// the reference keeps the frame from being freed or reused before the send.
    /// </summary>
    public void AddPage(FileHandle file, int pfn, int inPage, int length)
    {
        if (length > 0)
        {
            Add(pfn >= 0 ? file.FrameAddress(pfn) + inPage : ZeroPage, length);
        }
    }

    /// <summary>Sends the header and the segments with one writev (the kernel copies them into the caller's pages); 0 or -errno.</summary>
    public int SendVector(ulong unique)
    {
        var length = HeaderSize + vectorBytes;
        ref var header = ref Unsafe.AsRef<OutHeader>(buffer);
        header.Len = (uint)length;
        header.Error = 0;
        header.Unique = unique;
        if (Sink is { } sink)
        {
            // Tests: gather into the payload area, then hand over one span.
            var at = HeaderSize;
            for (var i = 1; i < segments; i++)
            {
                new ReadOnlySpan<byte>(vectors[i].Base, (int)vectors[i].Length).CopyTo(new Span<byte>(buffer + at, capacity - at));
                at += (int)vectors[i].Length;
            }

            return sink(new ReadOnlySpan<byte>(buffer, length));
        }

        vectors[0].Base = buffer;
        vectors[0].Length = (nuint)HeaderSize;
        return WriteAll(vectors, segments);
    }

    private int WriteAll(Native.IoVec* iov, int count)
    {
        while (true)
        {
            // A /dev/fuse write takes the whole reply or fails; it is never short.
            var n = Native.Writev(Fd, iov, count);
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

        if (vectors != null)
        {
            NativeMemory.Free(vectors);
            vectors = null;
        }
    }
}
