using System.Text;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse;

/// <summary>
/// The protocol server of one mount: INIT negotiation, the opcode table, and the handle
/// tables. Wire-independent of how the connection was made (<see cref="FuseMount"/> mounts
/// and runs the threads; tests drive <see cref="Dispatch"/> directly).
/// </summary>
internal sealed partial class FuseSession
{
    /// <summary>max_write, and the largest READ (max_pages * 4 KiB).</summary>
    public const int MaxWrite = 1 << 20;
    public const int MaxPages = 256;

    /// <summary>The flags we ask for when the kernel offers them (see docs/fuse.md for why each).</summary>
    public const InitFlags Wanted =
        InitFlags.AsyncRead | InitFlags.AtomicOTrunc | InitFlags.ExportSupport | InitFlags.BigWrites |
        InitFlags.DoReaddirplus | InitFlags.ReaddirplusAuto | InitFlags.ParallelDirops | InitFlags.MaxPages |
        InitFlags.CacheSymlinks | InitFlags.HandleKillprivV2;

    /// <summary>Request buffer: the largest WRITE plus headers, with room to spare.</summary>
    public const int RequestCapacity = MaxWrite + (64 * 1024);

    /// <summary>Reply payload: the largest READ (or COPY_FILE_RANGE chunk).</summary>
    public const int ReplyCapacity = MaxWrite + 4096;

    private delegate void Handler(FuseSession session, Worker worker, in Request request);

    private static readonly Handler?[] Table = BuildTable();

    private readonly CredentialCache credentials;
    private readonly List<UringQueue> queues = [];
    private int running;
    private int deviceRunning;

    public FuseSession(FileSystem fs, FuseMountOptions options)
    {
        Fs = fs;
        Nodes = fs.Nodes;
        Options = options;
        credentials = new CredentialCache(TimeProvider.System, TimeSpan.FromSeconds(1));
    }

    public FileSystem Fs { get; }

    public NodeOperations Nodes { get; }

    public FuseMountOptions Options { get; }

    public HandleTable<FileHandle> Files { get; } = new();

    public HandleTable<DirectoryHandle> Directories { get; } = new();

    /// <summary>The negotiated protocol minor (0 before INIT).</summary>
    public uint Minor { get; private set; }

    /// <summary>The flags both sides agreed on.</summary>
    public InitFlags Flags { get; private set; }

    /// <summary>Runs on the serving thread once the INIT reply was accepted (the kernel applied it).</summary>
    public Action? Initialized { get; set; }

    /// <summary>
    /// Runs on the serving thread before an INIT reply that could ask for io_uring: sets the
    /// queues up, true when every one can serve (see FuseMount.PrepareRings). Null: never.
    /// </summary>
    public Func<bool>? PrepareRings { get; set; }

    /// <summary>
    /// A queue cannot serve although the connection negotiated io_uring: the kernel would hold
    /// its callers for ever (fuse_block_alloc, or requests queued to a queue nobody fetches),
    /// so the mount aborts the connection and they get ENOTCONN instead (FuseMount.Abort).
    /// </summary>
    public Action<string>? RingFailed { get; set; }

    /// <summary>Set when every worker has stopped; <see cref="FuseMount"/> waits on it.</summary>
    public ManualResetEventSlim Stopped { get; } = new(false);

    /// <summary>Requests answered with an error because they were malformed or failed unexpectedly.</summary>
    public long ProtocolErrors;

    /// <summary>True when INIT negotiated FUSE_OVER_IO_URING (the queues may still be registering).</summary>
    public bool UsesIoUring => (Flags & FuseUring.OverIoUring) != 0;

    public void WorkersStarting(int count)
    {
        Volatile.Write(ref deviceRunning, count);
        Volatile.Write(ref running, count);
    }

    /// <summary>An io_uring queue's thread is about to start (while a /dev/fuse thread still runs: it starts them after INIT).</summary>
    public void RingWorkerStarting(UringQueue queue)
    {
        lock (queues)
        {
            queues.Add(queue);
        }

        Interlocked.Increment(ref running);
    }

    public void WorkerStopped(Worker worker)
    {
        if (worker.StopErrno != 0)
        {
            Log($"fuse: read on /dev/fuse failed with errno {worker.StopErrno}; thread stops");
        }

        if (worker.Queue is null && Interlocked.Decrement(ref deviceRunning) == 0)
        {
            // /dev/fuse reads end (ENODEV) only once the connection is aborted, and the abort
            // ended the rings' requests too (fuse_uring_abort): let the queue threads go.
            lock (queues)
            {
                foreach (var q in queues)
                {
                    q.Stop();
                }
            }
        }

        if (Interlocked.Decrement(ref running) == 0)
        {
            Stopped.Set();
        }
    }

    /// <summary>Handles one request read from the device and sends its reply (if it has one).</summary>
    public void Dispatch(Worker worker, ReadOnlySpan<byte> message)
    {
        ulong unique = 0;
        var opcode = Opcode.MaxOpcode;
        try
        {
            var request = new Request(message);
            unique = request.Unique;
            opcode = request.Opcode;
            worker.RequestCounts[Math.Min((uint)opcode, (uint)Opcode.MaxOpcode)]++;
            var handler = (uint)opcode < (uint)Table.Length ? Table[(int)opcode] : null;
            if (handler is null)
            {
                Reply(worker, unique, worker.Reply.SendError(unique, (int)Errno.ENOSYS));
                return;
            }

            if (Minor == 0 && opcode != Opcode.Init)
            {
                Reply(worker, unique, worker.Reply.SendError(unique, (int)Errno.EIO));
                return;
            }

            handler(this, worker, request);
        }
        catch (TmpfsException e)
        {
            if (HasReply(opcode))
            {
                Reply(worker, unique, worker.Reply.SendError(unique, (int)e.Errno));
            }
        }
        catch (Exception e) when (e is ProtocolException or ArgumentException or DecoderFallbackException)
        {
            Interlocked.Increment(ref ProtocolErrors);
            Log($"fuse: bad {opcode} request: {e.Message}");
            if (HasReply(opcode) && unique != 0)
            {
                Reply(worker, unique, worker.Reply.SendError(unique, (int)Errno.EINVAL));
            }
        }
        catch (Exception e)
        {
            // An engine bug must not kill the server: the caller gets EIO, the log the details.
            Interlocked.Increment(ref ProtocolErrors);
            Log($"fuse: {opcode} failed unexpectedly: {e}");
            if (HasReply(opcode) && unique != 0)
            {
                Reply(worker, unique, worker.Reply.SendError(unique, (int)Errno.EIO));
            }
        }
    }

    /// <summary>Closes every handle the kernel left open (the connection is gone).</summary>
    public int CloseAllHandles()
    {
        var n = 0;
        foreach (var h in Files.Drain())
        {
            h.Dispose();
            n++;
        }

        foreach (var h in Directories.Drain())
        {
            h.Dispose();
            n++;
        }

        return n;
    }

    public void Log(string message) => Options.Log?.WriteLine(message);

    private static bool HasReply(Opcode op) => op is not (Opcode.Forget or Opcode.BatchForget or Opcode.Interrupt);

    /// <summary>A reply write failed: ENOENT means the request was interrupted and is gone; anything else is logged.</summary>
    private void Reply(Worker worker, ulong unique, int result)
    {
        _ = worker;
        if (result < 0 && result != -Native.ENOENT)
        {
            Log($"fuse: reply to request {unique} failed with errno {-result}");
        }
    }

    private Credentials Caller(in Request r)
    {
        ref readonly var h = ref r.Header;
        return credentials.Get(h.Uid, h.Gid, h.Pid);
    }

    private static string Name(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    private void HandleInit(Worker w, in Request r)
    {
        ref readonly var init = ref r.Arg<InitIn>();
        ref var o = ref w.Reply.Struct<InitOut>();
        if (init.Major > FuseProtocol.KernelVersion)
        {
            // A newer major: answer with ours and wait for the kernel's second INIT.
            o.Major = FuseProtocol.KernelVersion;
            o.Minor = FuseProtocol.KernelMinorVersion;
            Reply(w, r.Unique, w.Reply.Send<InitOut>(r.Unique));
            return;
        }

        if (init.Major < FuseProtocol.KernelVersion || init.Minor < 12)
        {
            Log($"fuse: kernel protocol {init.Major}.{init.Minor} is too old");
            Reply(w, r.Unique, w.Reply.SendError(r.Unique, 71 /* EPROTO */));
            return;
        }

        var offered = (InitFlags)init.Flags;
        if ((offered & InitFlags.InitExt) != 0)
        {
            offered |= (InitFlags)((ulong)init.Flags2 << 32);
        }

        // FUSE_OVER_IO_URING is offered only while enable_uring is Y (fuse_send_init), and
        // asked for only when every queue has its ring: the kernel would otherwise hold every
        // request for queues that never register (fuse_block_alloc).
        var wanted = Wanted | (Options.DirectIo ? InitFlags.DirectIoAllowMmap : 0);
        if ((offered & FuseUring.OverIoUring) != 0 && Options.IoUring != FuseIoUring.Off && PrepareRings?.Invoke() == true)
        {
            wanted |= FuseUring.OverIoUring;
        }

        var flags = offered & wanted;
        if ((ulong)flags >> 32 != 0)
        {
            flags |= InitFlags.InitExt; // flags2 is read only with INIT_EXT (process_init_reply)
        }

        o.Major = FuseProtocol.KernelVersion;
        o.Minor = Math.Min(init.Minor, FuseProtocol.KernelMinorVersion);
        o.MaxReadahead = init.MaxReadahead;
        o.Flags = (uint)flags;
        o.Flags2 = (uint)((ulong)flags >> 32);
        o.MaxBackground = 64;
        o.CongestionThreshold = 48;
        o.MaxWrite = MaxWrite;
        o.TimeGran = 1;
        o.MaxPages = MaxPages;
        Flags = flags;
        Minor = o.Minor;
        var result = w.Reply.Send<InitOut>(r.Unique);
        Reply(w, r.Unique, result);
        if (result >= 0)
        {
            Initialized?.Invoke();
        }
    }

    private static Handler?[] BuildTable()
    {
        var t = new Handler?[(int)Opcode.MaxOpcode];
        t[(int)Opcode.Init] = static (s, w, in r) => s.HandleInit(w, r);
        t[(int)Opcode.Lookup] = static (s, w, in r) => s.Lookup(w, r);
        t[(int)Opcode.Forget] = static (s, w, in r) => s.Forget(r);
        t[(int)Opcode.BatchForget] = static (s, w, in r) => s.BatchForget(r);
        t[(int)Opcode.Getattr] = static (s, w, in r) => s.Getattr(w, r);
        t[(int)Opcode.Statx] = static (s, w, in r) => s.Statx(w, r);
        t[(int)Opcode.Setattr] = static (s, w, in r) => s.Setattr(w, r);
        t[(int)Opcode.Readlink] = static (s, w, in r) => s.Readlink(w, r);
        t[(int)Opcode.Symlink] = static (s, w, in r) => s.Symlink(w, r);
        t[(int)Opcode.Mknod] = static (s, w, in r) => s.Mknod(w, r);
        t[(int)Opcode.Mkdir] = static (s, w, in r) => s.Mkdir(w, r);
        t[(int)Opcode.Unlink] = static (s, w, in r) => s.Unlink(w, r);
        t[(int)Opcode.Rmdir] = static (s, w, in r) => s.Rmdir(w, r);
        t[(int)Opcode.Rename] = static (s, w, in r) => s.Rename(w, r, two: false);
        t[(int)Opcode.Rename2] = static (s, w, in r) => s.Rename(w, r, two: true);
        t[(int)Opcode.Link] = static (s, w, in r) => s.Link(w, r);
        t[(int)Opcode.Open] = static (s, w, in r) => s.Open(w, r);
        t[(int)Opcode.Create] = static (s, w, in r) => s.Create(w, r, tmpfile: false);
        t[(int)Opcode.Tmpfile] = static (s, w, in r) => s.Create(w, r, tmpfile: true);
        t[(int)Opcode.Read] = static (s, w, in r) => s.Read(w, r);
        t[(int)Opcode.Write] = static (s, w, in r) => s.Write(w, r);
        t[(int)Opcode.Statfs] = static (s, w, in r) => s.Statfs(w, r);
        t[(int)Opcode.Release] = static (s, w, in r) => s.Release(w, r);
        t[(int)Opcode.Flush] = static (s, w, in r) => s.Flush(w, r);
        t[(int)Opcode.Fsync] = static (s, w, in r) => s.Fsync(w, r);
        t[(int)Opcode.Setxattr] = static (s, w, in r) => s.Setxattr(w, r);
        t[(int)Opcode.Getxattr] = static (s, w, in r) => s.Getxattr(w, r, list: false);
        t[(int)Opcode.Listxattr] = static (s, w, in r) => s.Getxattr(w, r, list: true);
        t[(int)Opcode.Removexattr] = static (s, w, in r) => s.Removexattr(w, r);
        t[(int)Opcode.Opendir] = static (s, w, in r) => s.Opendir(w, r);
        t[(int)Opcode.Readdir] = static (s, w, in r) => s.Readdir(w, r, plus: false);
        t[(int)Opcode.Readdirplus] = static (s, w, in r) => s.Readdir(w, r, plus: true);
        t[(int)Opcode.Releasedir] = static (s, w, in r) => s.Releasedir(w, r);
        t[(int)Opcode.Fsyncdir] = static (s, w, in r) => s.Fsyncdir(w, r);
        t[(int)Opcode.Access] = static (s, w, in r) => s.Access(w, r);
        t[(int)Opcode.Interrupt] = static (s, w, in r) => { }; // Every handler runs to completion without blocking on the caller.
        t[(int)Opcode.Destroy] = static (s, w, in r) => s.Empty(w, r);
        t[(int)Opcode.Fallocate] = static (s, w, in r) => s.Fallocate(w, r);
        t[(int)Opcode.Lseek] = static (s, w, in r) => s.Lseek(w, r);
        t[(int)Opcode.CopyFileRange] = static (s, w, in r) => s.CopyFileRange(w, r, wide: false);
        t[(int)Opcode.CopyFileRange64] = static (s, w, in r) => s.CopyFileRange(w, r, wide: true);

        // Left out on purpose, answered ENOSYS (sticky in the kernel):
        // GETLK/SETLK/SETLKW: POSIX_LOCKS/FLOCK_LOCKS are not negotiated, the kernel locks locally.
        // IOCTL, POLL, BMAP, SETUPMAPPING/REMOVEMAPPING, SYNCFS: not a tmpfs's (virtiofs, fuseblk, cuse).
        return t;
    }
}
