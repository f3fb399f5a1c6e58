namespace Tmpfs.Fuse;

/// <summary>How a <see cref="FuseMount"/> is mounted and served.</summary>
public sealed record FuseMountOptions
{
    /// <summary>The source shown by /proc/mounts and df (the kernel tmpfs shows "tmpfs").</summary>
    public string Source { get; init; } = "tmpfs";

    /// <summary>The subtype: the filesystem type is "fuse.&lt;Subtype&gt;".</summary>
    public string Subtype { get; init; } = "tmpfs";

    /// <summary>Threads reading /dev/fuse, each on its own cloned fd; 0 = <see cref="FuseMount.DefaultThreads"/> (one per two cores, 1 to 8).</summary>
    public int Threads { get; init; }

    /// <summary>
    /// How long a serving thread polls /dev/fuse for the next request before it sleeps in
    /// poll(2); zero sleeps at once. A short poll saves the wake-up from an idle CPU that a
    /// synchronous caller's next request would otherwise pay (see RequestBuffer.ReadFrom).
    /// </summary>
    public TimeSpan PollBeforeSleep { get; init; } = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// FUSE over io_uring (kernel 6.14+): Auto uses it when the kernel offers it
    /// (/sys/module/fuse/parameters/enable_uring is Y); On also switches that system-wide
    /// parameter to Y for this mount's INIT when root may, logging it, and puts it back once the
    /// INIT reply was processed (the connection keeps io_uring); Off never asks for it.
    /// </summary>
    public FuseIoUring IoUring { get; init; } = FuseIoUring.Auto;

    /// <summary>Ring entries per io_uring queue (one queue per possible CPU), each with a max_write payload buffer.</summary>
    public int IoUringQueueDepth { get; init; } = 4;

    /// <summary>Pins each io_uring queue's thread to its CPU (the kernel picks the queue by the caller's CPU).</summary>
    public bool IoUringPinThreads { get; init; } = true;

    /// <summary>Tests only: the qid a queue registers with (a wrong one makes REGISTER fail).</summary>
    internal Func<int, int>? IoUringRegisterQid { get; init; }

    /// <summary>How long the kernel may trust names and negative lookups. Long: every change passes through the kernel.</summary>
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long the kernel may trust attributes.</summary>
    public TimeSpan AttributeTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The mount's readahead window in KiB (/sys/class/bdi/0:N/read_ahead_kb), raised after
    /// mount(2) because INIT can only lower the kernel's 128 KiB. 1024 lets a sequential
    /// reader get 1 MiB READs (max_pages 256). 0 keeps the kernel's default.
    /// </summary>
    public int ReadAheadKb { get; init; } = 1024;

    /// <summary>
    /// Open files with FOPEN_DIRECT_IO: reads and writes go straight between the caller's
    /// buffer and the engine, with no copy in the kernel's page cache (so a file's data is
    /// held once, in the engine's budget, as the kernel's tmpfs holds it once). Faster for
    /// large transfers; every read is a round trip, also of data read a moment ago. Shared
    /// mmap keeps working (FUSE_DIRECT_IO_ALLOW_MMAP, when the kernel offers it).
    /// </summary>
    public bool DirectIo { get; init; }

    /// <summary>MS_NOSUID, as the kernel's tmpfs mounts by default in most setups.</summary>
    public bool NoSuid { get; init; } = true;

    /// <summary>MS_NODEV.</summary>
    public bool NoDev { get; init; } = true;

    /// <summary>MS_NOEXEC.</summary>
    public bool NoExec { get; init; }

    /// <summary>MS_RDONLY: the VFS refuses every change with EROFS before it reaches the server.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// When not root: the fusermount3 program that mounts for us (found in PATH when null).
    /// Root mounts with mount(2) directly.
    /// </summary>
    public string? Fusermount { get; init; }

    /// <summary>Where the server reports what it cannot send back to a caller (protocol errors, unmount failures).</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>Whether a mount serves requests over io_uring (see <see cref="FuseMountOptions.IoUring"/>).</summary>
public enum FuseIoUring
{
    /// <summary>When the kernel offers it (enable_uring is Y).</summary>
    Auto,

    /// <summary>Switches enable_uring to Y for the mount's INIT if needed (root), then puts it back.</summary>
    On,

    /// <summary>Never.</summary>
    Off,
}
