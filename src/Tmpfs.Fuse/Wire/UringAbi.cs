using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

// FUSE over io_uring (protocol 7.42, include/uapi/linux/fuse.h; fs/fuse/dev_uring.c): the
// structs the installed 7.38 header lacks, checked against the kernel's uapi and dev_uring.c.
#pragma warning disable SA1649, SA1402 // small structs of one spec, one file

/// <summary>Constants of FUSE over io_uring.</summary>
internal static class FuseUring
{
    /// <summary>INIT flag FUSE_OVER_IO_URING (1ULL &lt;&lt; 41, i.e. bit 9 of flags2).</summary>
    public const InitFlags OverIoUring = (InitFlags)(1UL << 41);

    /// <summary>FUSE_URING_IN_OUT_HEADER_SZ: the in/out header area of fuse_uring_req_header.</summary>
    public const int InOutHeaderSize = 128;

    /// <summary>FUSE_URING_OP_IN_OUT_SZ: the opcode's first argument (in_args[0]).</summary>
    public const int OpInSize = 128;

    /// <summary>Offset of fuse_uring_ent_in_out in fuse_uring_req_header.</summary>
    public const int EntInOutOffset = InOutHeaderSize + OpInSize;

    /// <summary>sizeof(struct fuse_uring_req_header).</summary>
    public const int ReqHeaderSize = EntInOutOffset + 32;

    /// <summary>enum fuse_uring_cmd: FUSE_IO_URING_CMD_REGISTER (register the entry's buffers, fetch a request).</summary>
    public const uint CmdRegister = 1;

    /// <summary>FUSE_IO_URING_CMD_COMMIT_AND_FETCH: reply to the entry's request and fetch the next.</summary>
    public const uint CmdCommitAndFetch = 2;

    /// <summary>The module parameter that lets new connections use io_uring (fuse_uring_enabled).</summary>
    public const string EnableParameter = "/sys/module/fuse/parameters/enable_uring";
}

/// <summary>struct fuse_uring_ent_in_out: written by the kernel with a request, by us with the reply.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UringEntInOut
{
    public ulong Flags;

    /// <summary>The request's unique id, given back in <see cref="UringCmdReq.CommitId"/>.</summary>
    public ulong CommitId;

    /// <summary>Bytes used in the payload buffer (request: arguments after the first; reply: all out arguments).</summary>
    public uint PayloadSize;
    public uint Padding;
    public ulong Reserved;
}

/// <summary>struct fuse_uring_cmd_req: the command data in the SQE's 80-byte cmd area (SQE128).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UringCmdReq
{
    public ulong Flags;
    public ulong CommitId;
    public ushort Qid;
    public ushort Padding0;
    public uint Padding1;
}
