using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

/// <summary>
/// A typed view over one request as read from /dev/fuse: the header, the opcode's struct,
/// and the names or data after it. Nothing is copied; the view lives as long as the buffer
/// is not reused (the rest of the handler).
/// </summary>
internal readonly ref struct Request
{
    public static readonly int HeaderSize = Unsafe.SizeOf<InHeader>();

    private readonly ReadOnlySpan<byte> message;

    public Request(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderSize)
        {
            throw new ProtocolException($"request of {message.Length} bytes is shorter than its header");
        }

        var len = MemoryMarshal.Read<InHeader>(message).Len;
        if (len < HeaderSize || len > message.Length)
        {
            throw new ProtocolException($"request length {len} does not match the {message.Length} bytes read");
        }

        this.message = message[..(int)len];
    }

    public ref readonly InHeader Header => ref MemoryMarshal.AsRef<InHeader>(message);

    public Opcode Opcode => (Opcode)Header.Opcode;

    public ulong Unique => Header.Unique;

    public ulong NodeId => Header.NodeId;

    /// <summary>Everything after the header.</summary>
    public ReadOnlySpan<byte> Body => message[HeaderSize..];

    /// <summary>The opcode's struct at the start of the body (EINVAL-worthy when short).</summary>
    public ref readonly T Arg<T>()
        where T : unmanaged
    {
        var body = Body;
        if (body.Length < Unsafe.SizeOf<T>())
        {
            throw new ProtocolException($"{Opcode}: body of {body.Length} bytes is shorter than {typeof(T).Name}");
        }

        return ref MemoryMarshal.AsRef<T>(body);
    }

    /// <summary>The body after the first <paramref name="size"/> bytes (the struct).</summary>
    public ReadOnlySpan<byte> After(int size) => Body.Length < size ? throw new ProtocolException($"{Opcode}: body too short") : Body[size..];

    /// <summary>The body after the opcode's struct <typeparamref name="T"/>.</summary>
    public ReadOnlySpan<byte> After<T>()
        where T : unmanaged => After(Unsafe.SizeOf<T>());

    /// <summary>The NUL-terminated string at the start of <paramref name="span"/>.</summary>
    public static ReadOnlySpan<byte> TakeStringOf(ReadOnlySpan<byte> span)
    {
        var nul = span.IndexOf((byte)0);
        return nul >= 0 ? span[..nul] : throw new ProtocolException("name without a terminating NUL");
    }

    /// <summary>Takes one NUL-terminated string from the front of <paramref name="span"/> (without the NUL).</summary>
    public static ReadOnlySpan<byte> TakeString(ref ReadOnlySpan<byte> span)
    {
        var nul = span.IndexOf((byte)0);
        if (nul < 0)
        {
            throw new ProtocolException("name without a terminating NUL");
        }

        var s = span[..nul];
        span = span[(nul + 1)..];
        return s;
    }
}

/// <summary>A malformed message from the kernel: answered with EINVAL (or EIO), never fatal.</summary>
internal sealed class ProtocolException(string message) : Exception(message);
