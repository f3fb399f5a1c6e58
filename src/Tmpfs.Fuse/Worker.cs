using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse;

/// <summary>
/// One serving thread: its cloned /dev/fuse fd (or its io_uring queue, <see cref="Queue"/>),
/// its request and reply buffers, and the directory visitors it formats entries with.
/// Requests are handled inline on this thread.
/// </summary>
internal sealed class Worker : IDisposable
{
    private readonly FuseSession session;
    private Thread? thread;

    private long spinTicks;
    private readonly RunQueueSampler? runQueue; // only for a /dev/fuse thread that polls

    public Worker(FuseSession session, int fd, int requestCapacity, int replyCapacity, TimeSpan poll = default, UringQueue? queue = null)
    {
        this.session = session;
        Fd = fd;
        Queue = queue;
        if (poll > TimeSpan.Zero && queue is null)
        {
            // Our own fd (a clone, or the mount's for the first thread): non-blocking for the
            // poll before sleeping (RequestBuffer.ReadFrom).
            var flags = NativeMount.Fcntl(fd, NativeMount.F_GETFL, 0);
            if (flags >= 0 && NativeMount.Fcntl(fd, NativeMount.F_SETFL, flags | NativeMount.O_NONBLOCK) == 0)
            {
                spinTicks = (long)(poll.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
                runQueue = new RunQueueSampler();
            }
        }

        Requests = new RequestBuffer(requestCapacity);
        Reply = new ReplyWriter(replyCapacity) { Fd = fd };
        DirVisitor = VisitDirent;
        DirPlusVisitor = VisitDirentPlus;
    }

    /// <summary>The /dev/fuse fd this thread reads (-1 for an io_uring queue's thread).</summary>
    public int Fd { get; }

    /// <summary>The io_uring queue this thread serves instead of reading /dev/fuse.</summary>
    public UringQueue? Queue { get; }

    /// <summary>The frames of the READ being answered (see <see cref="FileHandle.GetPages"/>).</summary>
    public int[] Pages { get; } = new int[ReplyWriter.MaxSegments];

    public RequestBuffer Requests { get; }

    public ReplyWriter Reply { get; }

    /// <summary>The fatal read error that stopped the thread (0 for ENODEV, the normal end).</summary>
    public int StopErrno { get; private set; }

    // State of the READDIR being formatted: the payload range in use.
    public int DirPosition;
    public int DirLimit;

    public DirectoryVisitor DirVisitor { get; }

    public DirectoryVisitor DirPlusVisitor { get; }

    /// <summary>Requests this thread has read, by opcode (written by this thread only; read after it stopped, or racily for diagnostics).</summary>
    public long[] RequestCounts { get; } = new long[(int)Opcode.MaxOpcode + 1];

    /// <summary>
    /// Sleeps at once after each request from now on: once the io_uring queues serve, only
    /// FORGET, INTERRUPT and notifications come over /dev/fuse, and a poll after a FORGET
    /// would only take a CPU from the caller and the queue thread.
    /// </summary>
    public void StopPolling() => Volatile.Write(ref spinTicks, 0);

    public void Start(string name)
    {
        thread = new Thread(Run) { IsBackground = true, Name = name };
        thread.Start();
    }

    public bool Join(TimeSpan timeout) => thread?.Join(timeout) ?? true;

    private void Run()
    {
        if (Queue is not null)
        {
            try
            {
                Queue.Run(this);
            }
            finally
            {
                session.WorkerStopped(this);
            }

            return;
        }

        while (true)
        {
            var spin = Volatile.Read(ref spinTicks);
            var n = Requests.ReadFrom(Fd, spin > 0 && runQueue!.CpuToSpare() ? spin : 0);
            if (n < 0)
            {
                StopErrno = n == -Native.ENODEV ? 0 : -n;
                break;
            }

            session.Dispatch(this, Requests.Message(n));
        }

        session.WorkerStopped(this);
    }

    private bool VisitDirent(in DirectoryEntry e, in StatInfo attributes)
    {
        var used = Encode.Dirent(Reply.Payload[DirPosition..DirLimit], (ulong)e.Ino, (ulong)e.NextCookie, e.Type, e.Name, plus: false, out _);
        DirPosition += used;
        return used != 0;
    }

    private bool VisitDirentPlus(in DirectoryEntry e, in StatInfo attributes)
    {
        var record = Reply.Payload[DirPosition..DirLimit];
        var used = Encode.Dirent(record, (ulong)e.Ino, (ulong)e.NextCookie, e.Type, e.Name, plus: true, out _);
        if (used == 0)
        {
            return false;
        }

        // "." and ".." take no lookup, and the kernel ignores their entry part: leave it zero.
        if (e.Name is not ("." or ".."))
        {
            ref var entry = ref System.Runtime.InteropServices.MemoryMarshal.AsRef<EntryOut>(record);
            Encode.Entry(attributes, ref entry, session.Options.EntryTimeout, session.Options.AttributeTimeout);
        }

        DirPosition += used;
        return true;
    }

    public void Dispose()
    {
        Requests.Dispose();
        Reply.Dispose();
        runQueue?.Dispose();
        Queue?.Dispose();
    }
}
