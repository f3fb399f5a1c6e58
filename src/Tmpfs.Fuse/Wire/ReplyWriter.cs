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

    // FUSE over io_uring: the entry the request came in (see UringQueue). The reply goes into
    // its buffers instead of a writev, and the queue commits it after the handler returns.
    private byte* ringHeader;
    private byte* ringPayload;
    private int ringCapacity;

    /// <summary>True once the request being handled through an io_uring entry has its reply in the entry.</summary>
    public bool RingReplied { get; private set; }

    /// <summary>
    /// Directs the next reply into an io_uring entry: the out-header into the header buffer's
    /// in_out area, the out arguments into its payload buffer (fuse_uring_commit reads both).
    /// </summary>
    public void TargetRing(byte* header, byte* payload, int capacity)
    {
        ringHeader = header;
        ringPayload = payload;
        ringCapacity = capacity;
        RingReplied = false;
    }

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
        if (ringHeader != null)
        {
            if (payloadLength > ringCapacity)
            {
                return RingReply(unique, -Native.EIO, 0);
            }

            // The request's payload shares this buffer: every handler is done with its names
            // and data once it sends (the reply is formatted in our own buffer until here).
            Unsafe.CopyBlockUnaligned(ringPayload, buffer + HeaderSize, (uint)payloadLength);
            return RingReply(unique, error, payloadLength);
        }

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
        if (ringHeader != null)
        {
            // READ through io_uring: gather the frames straight into the entry's payload (a
            // READ has no request payload); the kernel copies it to the caller from there.
            if (vectorBytes > ringCapacity)
            {
                return RingReply(unique, -Native.EIO, 0);
            }

            var to = ringPayload;
            for (var i = 1; i < segments; i++)
            {
                Unsafe.CopyBlockUnaligned(to, vectors[i].Base, (uint)vectors[i].Length);
                to += vectors[i].Length;
            }

            return RingReply(unique, 0, vectorBytes);
        }

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

    /// <summary>
    /// The out-header in the entry's in_out area and the payload size in its
    /// fuse_uring_ent_in_out. Always 0: whether the kernel still wanted the reply is known only
    /// at the commit, so the handlers' undo of a refused reply (-ENOENT over /dev/fuse) does not
    /// run here; a request vanishes while we hold it only when the connection is aborted.
    /// </summary>
    private int RingReply(ulong unique, int error, int payloadLength)
    {
        ref var header = ref Unsafe.AsRef<OutHeader>(ringHeader);
        header.Len = (uint)(HeaderSize + payloadLength);
        header.Error = error;
        header.Unique = unique;
        ref var inOut = ref Unsafe.AsRef<UringEntInOut>(ringHeader + FuseUring.EntInOutOffset);
        inOut.PayloadSize = (uint)(error == 0 ? payloadLength : 0);
        RingReplied = true;
        return 0;
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
