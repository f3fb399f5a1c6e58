using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

/// <summary>
/// A minimal io_uring (include/uapi/linux/io_uring.h) for one thread: io_uring_setup and
/// io_uring_enter through syscall(2), the SQ and CQ rings and the SQE array mapped once.
/// Only what FUSE over io_uring needs: 128-byte SQEs (IORING_SETUP_SQE128, the FUSE command
/// lives in the SQE's 80-byte cmd area) and 16-byte CQEs. Not thread-safe: the owning thread
/// alone prepares, submits and reaps (the kernel's SINGLE_ISSUER contract, whether or not set).
/// </summary>
internal sealed unsafe partial class IoUring : IDisposable
{
    public const uint SetupSqe128 = 1u << 10;
    public const uint EnterGetEvents = 1u << 0;
    public const byte OpPollAdd = 6;
    public const byte OpUringCmd = 46;
    public const int SqeSize = 128;

    private const long SysSetup = 425; // the same number on every architecture since 5.1
    private const long SysEnter = 426;
    private const long OffSqRing = 0;
    private const long OffSqes = 0x10000000;
    private const uint FeatSingleMmap = 1u << 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct Offsets
    {
        public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public Offsets Sq;
        public Offsets Cq; // Overflow, Cqes, Flags in place of Flags, Dropped, Array
    }

    private readonly int fd;
    private readonly byte* ring;
    private readonly nuint ringSize;
    private readonly byte* sqes;
    private readonly nuint sqesSize;
    private readonly uint* sqHead, sqTail, sqArray, cqHead, cqTail;
    private readonly uint sqMask, cqMask, sqEntries;
    private readonly byte* cqes;
    private uint sqeTail;      // prepared, not yet published to the kernel
    private uint sqeSubmitted; // published and passed to io_uring_enter

    private IoUring(int fd, in Params p, byte* ring, nuint ringSize, byte* sqes, nuint sqesSize)
    {
        this.fd = fd;
        this.ring = ring;
        this.ringSize = ringSize;
        this.sqes = sqes;
        this.sqesSize = sqesSize;
        sqHead = (uint*)(ring + p.Sq.Head);
        sqTail = (uint*)(ring + p.Sq.Tail);
        sqArray = (uint*)(ring + p.Sq.Array);
        sqMask = *(uint*)(ring + p.Sq.RingMask);
        sqEntries = p.SqEntries;
        cqHead = (uint*)(ring + p.Cq.Head);
        cqTail = (uint*)(ring + p.Cq.Tail);
        cqMask = *(uint*)(ring + p.Cq.RingMask);
        cqes = ring + p.Cq.Dropped; // io_cqring_offsets.cqes sits where io_sqring_offsets.dropped is
        sqeTail = sqeSubmitted = *sqTail;
    }

    /// <summary>Sets up a ring of <paramref name="entries"/> SQEs with <paramref name="flags"/> (SQE128 is added); null and the errno on failure.</summary>
    public static IoUring? Create(uint entries, uint flags, out int errno)
    {
        Params p = default;
        p.Flags = flags | SetupSqe128;
        var fd = (int)Syscall(SysSetup, (nint)entries, (nint)(&p), 0, 0, 0, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        if ((p.Features & FeatSingleMmap) == 0)
        {
            Native.Close(fd); // kernels before 5.4; FUSE over io_uring needs 6.14 anyway
            errno = Native.EINVAL;
            return null;
        }

        // One mapping holds the SQ ring and the CQ ring (IORING_FEAT_SINGLE_MMAP).
        var sqSize = p.Sq.Array + (p.SqEntries * sizeof(uint));
        var cqSize = p.Cq.Dropped + (p.CqEntries * 16u);
        var ringSize = (nuint)Math.Max(sqSize, cqSize);
        var ring = Mmap(null, ringSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqRing);
        if (ring == MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            Native.Close(fd);
            return null;
        }

        var sqesSize = (nuint)(p.SqEntries * SqeSize);
        var sqes = Mmap(null, sqesSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqes);
        if (sqes == MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            Munmap(ring, ringSize);
            Native.Close(fd);
            return null;
        }

        errno = 0;
        return new IoUring(fd, p, (byte*)ring, ringSize, (byte*)sqes, sqesSize);
    }

    /// <summary>The next free SQE, zeroed. The owner sizes the ring for every SQE it can have outstanding.</summary>
    public byte* NextSqe()
    {
        if (sqeTail - Volatile.Read(ref *sqHead) >= sqEntries)
        {
            throw new InvalidOperationException("io_uring submission queue full");
        }

        var index = sqeTail & sqMask;
        var sqe = sqes + (index * SqeSize);
        Unsafe.InitBlockUnaligned(sqe, 0, SqeSize);
        sqArray[index] = index;
        sqeTail++;
        return sqe;
    }

    /// <summary>
    /// Publishes the prepared SQEs and calls io_uring_enter: submits them and, with
    /// <paramref name="waitFor"/> &gt; 0, waits for that many completions (0 only runs pending
    /// task work and reaps). Returns 0 or -errno (EINTR is the caller's to retry).
    /// </summary>
    public int Enter(uint waitFor, bool getEvents)
    {
        var toSubmit = sqeTail - sqeSubmitted;
        Volatile.Write(ref *sqTail, sqeTail);
        var flags = getEvents || waitFor > 0 ? EnterGetEvents : 0;
        var n = Syscall(SysEnter, fd, (nint)toSubmit, (nint)waitFor, (nint)flags, 0, 0);
        if (n < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        sqeSubmitted += (uint)n;
        return 0;
    }

    /// <summary>Takes the next completion, if any.</summary>
    public bool TryTakeCompletion(out ulong userData, out int result)
    {
        var head = *cqHead;
        if (head == Volatile.Read(ref *cqTail))
        {
            userData = 0;
            result = 0;
            return false;
        }

        var cqe = cqes + ((head & cqMask) * 16);
        userData = *(ulong*)cqe;
        result = *(int*)(cqe + 8);
        Volatile.Write(ref *cqHead, head + 1);
        return true;
    }

    /// <summary>Fills an IORING_OP_URING_CMD SQE for <paramref name="targetFd"/> and returns its 80-byte cmd area.</summary>
    public static byte* PrepareUringCmd(byte* sqe, int targetFd, uint cmdOp, ulong userData, ulong addr = 0, uint len = 0)
    {
        sqe[0] = OpUringCmd;
        *(int*)(sqe + 4) = targetFd;
        *(uint*)(sqe + 8) = cmdOp;   // cmd_op (union with off)
        *(ulong*)(sqe + 16) = addr;  // addr
        *(uint*)(sqe + 24) = len;    // len
        *(ulong*)(sqe + 32) = userData;
        return sqe + 48;             // cmd[]: 80 bytes with SQE128
    }

    /// <summary>Fills an IORING_OP_POLL_ADD SQE (one-shot) waiting for <paramref name="events"/> on <paramref name="targetFd"/>.</summary>
    public static void PreparePollAdd(byte* sqe, int targetFd, uint events, ulong userData)
    {
        sqe[0] = OpPollAdd;
        *(int*)(sqe + 4) = targetFd;
        *(uint*)(sqe + 28) = events; // poll32_events
        *(ulong*)(sqe + 32) = userData;
    }

    public void Dispose()
    {
        Munmap(sqes, sqesSize);
        Munmap(ring, ringSize);
        Native.Close(fd);
    }

    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapShared = 0x01;
    private const int MapPopulate = 0x8000;
    private static readonly void* MapFailed = (void*)-1;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* addr, nuint length);
}
