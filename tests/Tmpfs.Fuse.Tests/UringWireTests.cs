using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse.Tests;

/// <summary>The FUSE-over-io_uring structs and the reply into a ring entry; no kernel needed.</summary>
public sealed unsafe class UringWireTests
{
    [Fact]
    public void StructsMatchTheKernelsUapi()
    {
        // include/uapi/linux/fuse.h 7.42: fuse_uring_ent_in_out, fuse_uring_cmd_req (in the
        // SQE's 80-byte cmd area), fuse_uring_req_header, FUSE_OVER_IO_URING.
        Assert.Equal(32, Unsafe.SizeOf<UringEntInOut>());
        Assert.Equal(24, Unsafe.SizeOf<UringCmdReq>());
        Assert.Equal(16, (int)Marshal.OffsetOf<UringCmdReq>(nameof(UringCmdReq.Qid)));
        Assert.Equal(16, (int)Marshal.OffsetOf<UringEntInOut>(nameof(UringEntInOut.PayloadSize)));
        Assert.Equal(288, FuseUring.ReqHeaderSize);
        Assert.Equal(256, FuseUring.EntInOutOffset);
        Assert.Equal(1UL << 41, (ulong)FuseUring.OverIoUring);
        Assert.Equal(1u << 9, (uint)((ulong)FuseUring.OverIoUring >> 32));
    }

    [Fact]
    public void RepliesGoIntoTheEntryWithTheirPayloadSize()
    {
        var header = (byte*)NativeMemory.AllocZeroed(FuseUring.ReqHeaderSize);
        var payload = (byte*)NativeMemory.AllocZeroed(8192);
        using var reply = new ReplyWriter(8192);
        try
        {
            ref var outHeader = ref Unsafe.AsRef<OutHeader>(header);
            ref var inOut = ref Unsafe.AsRef<UringEntInOut>(header + FuseUring.EntInOutOffset);

            reply.TargetRing(header, payload, 8192);
            Assert.False(reply.RingReplied);
            reply.Struct<WriteOut>().Size = 4096;
            Assert.Equal(0, reply.Send<WriteOut>(7));
            Assert.True(reply.RingReplied);
            Assert.Equal(7UL, outHeader.Unique);
            Assert.Equal(0, outHeader.Error);
            Assert.Equal((uint)Unsafe.SizeOf<WriteOut>(), inOut.PayloadSize);
            Assert.Equal(4096u, Unsafe.AsRef<WriteOut>(payload).Size);

            // An error carries no payload.
            reply.TargetRing(header, payload, 8192);
            Assert.Equal(0, reply.SendError(8, 61));
            Assert.Equal(8UL, outHeader.Unique);
            Assert.Equal(-61, outHeader.Error);
            Assert.Equal(0u, inOut.PayloadSize);

            // A READ is gathered from its segments into the payload.
            var a = stackalloc byte[3] { 1, 2, 3 };
            var b = stackalloc byte[2] { 4, 5 };
            reply.TargetRing(header, payload, 8192);
            reply.BeginVector();
            reply.Add(a, 3);
            reply.Add(b, 2);
            Assert.Equal(0, reply.SendVector(9));
            Assert.Equal(5u, inOut.PayloadSize);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, new ReadOnlySpan<byte>(payload, 5).ToArray());

            // More than the entry holds: EIO, not an overrun.
            reply.TargetRing(header, payload, 4);
            reply.BeginVector();
            reply.Add(a, 3);
            reply.Add(b, 2);
            Assert.Equal(0, reply.SendVector(10));
            Assert.Equal(-5, outHeader.Error);
            Assert.Equal(0u, inOut.PayloadSize);
        }
        finally
        {
            NativeMemory.Free(header);
            NativeMemory.Free(payload);
        }
    }
}
