using System.Globalization;
using System.Runtime.InteropServices;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse;

/// <summary>
/// A <see cref="FileSystem"/> mounted into the operating system through /dev/fuse (as
/// root: open /dev/fuse, mount(2) with the fd; otherwise through fusermount3). Serving threads answer the kernel until
/// the mount goes away (umount, umount -l, or <see cref="Unmount"/>); then every handle
/// the kernel left open is closed and the engine's <see cref="FileSystem.Unmount"/> runs
/// with its invariant checks, whose outcome <see cref="Wait()"/> returns.
/// </summary>
public sealed partial class FuseMount : IDisposable
{
    private readonly FuseSession session;
    private readonly List<Worker> workers = [];
    private readonly Lock finishGate = new();
    private bool finished;
    private bool viaFusermount;
    private int exitCode;

    private FuseMount(FileSystem fs, string mountPoint, FuseMountOptions options)
    {
        FileSystem = fs;
        MountPoint = mountPoint;
        Options = options;
        session = new FuseSession(fs, options);
    }

    public FileSystem FileSystem { get; }

    /// <summary>The absolute path mounted on.</summary>
    public string MountPoint { get; }

    public FuseMountOptions Options { get; }

    /// <summary>The connection's number under /sys/fs/fuse/connections (the mount's device minor), or -1.</summary>
    public int ConnectionId { get; private set; } = -1;

    /// <summary>The error of the engine's unmount after the mount went away, if it failed (busy inodes, leaked pages).</summary>
    public Exception? UnmountError { get; private set; }

    /// <summary>True while the serving threads run.</summary>
    public bool IsServing => !session.Stopped.IsSet;

    /// <summary>Requests answered EIO/EINVAL because they were malformed or hit an unexpected failure.</summary>
    public long ProtocolErrors => Interlocked.Read(ref session.ProtocolErrors);

    /// <summary>
    /// Requests read so far, by opcode name (diagnostics: how many round trips a workload
    /// costs). Exact once the threads stopped; approximate while they run.
    /// </summary>
    public IReadOnlyDictionary<string, long> RequestCounts()
    {
        var sums = new long[(int)Opcode.MaxOpcode + 1];
        lock (workers)
        {
            foreach (var w in workers)
            {
                for (var i = 0; i < sums.Length; i++)
                {
                    sums[i] += Volatile.Read(ref w.RequestCounts[i]);
                }
            }
        }

        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < sums.Length; i++)
        {
            if (sums[i] != 0)
            {
                var name = Enum.IsDefined((Opcode)i) && i != (int)Opcode.MaxOpcode ? ((Opcode)i).ToString().ToUpperInvariant() : "OPCODE" + i.ToString(CultureInfo.InvariantCulture);
                result[name] = sums[i];
            }
        }

        return result;
    }

    /// <summary>Mounts <paramref name="fs"/> on <paramref name="mountPoint"/> and starts serving it: as root with mount(2), otherwise through fusermount3.</summary>
    public static FuseMount Mount(FileSystem fs, string mountPoint, FuseMountOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fs);
        options ??= new FuseMountOptions();
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("FUSE mounts need Linux");
        }

        var full = Path.GetFullPath(mountPoint).TrimEnd('/');
        if (full.Length == 0)
        {
            full = "/";
        }

        if (!System.IO.Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"mount point '{full}' is not a directory");
        }

        var mount = new FuseMount(fs, full, options);
        var asRoot = Native.GetEuid() == 0;
        mount.AcquireUringParameter();
        int fd;
        try
        {
            fd = asRoot ? MountDirect(fs, full, options) : MountWithFusermount(full, options);
        }
        catch
        {
            mount.ReleaseUringParameter();
            throw;
        }

        mount.viaFusermount = !asRoot;

        try
        {
            mount.Start(fd);
        }
        catch
        {
            mount.DetachMountPoint(lazy: true);
            mount.ReleaseUringParameter();
            throw;
        }

        return mount;
    }

    /// <summary>As root: open /dev/fuse and mount(2) with the fd. Returns the fd.</summary>
    private static int MountDirect(FileSystem fs, string full, FuseMountOptions options)
    {
        var fd = Native.Open("/dev/fuse", Native.O_RDWR | Native.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"cannot open /dev/fuse: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        var rootMode = Convert.ToString(fs.Nodes.GetAttributes(NodeOperations.RootId).Mode & FileModes.TypeMask, 8);
        var data = string.Create(CultureInfo.InvariantCulture, $"fd={fd},rootmode={rootMode},user_id=0,group_id=0,default_permissions,allow_other");
        if (Native.Mount(options.Source, full, "fuse." + options.Subtype, VfsFlags(options), data) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Native.Close(fd);
            throw new IOException($"mount of {full} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return fd;
    }

    /// <summary>
    /// Not root: fusermount3 mounts (it is set-uid root) and sends the /dev/fuse fd back over
    /// a socket named by _FUSE_COMMFD (SCM_RIGHTS). Returns the fd.
    /// </summary>
    private static unsafe int MountWithFusermount(string full, FuseMountOptions options)
    {
        var sv = stackalloc int[2];
        if (NativeMount.SocketPair(NativeMount.AF_UNIX, NativeMount.SOCK_STREAM, 0, sv) != 0)
        {
            throw new IOException($"socketpair failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        NativeMount.Fcntl(sv[1], NativeMount.F_SETFD, 1); // ours stays out of the child
        var opts = new List<string>
        {
            "fsname=" + options.Source, "subtype=" + options.Subtype, "default_permissions",
            options.ReadOnly ? "ro" : "rw",
        };
        if (options.NoSuid)
        {
            opts.Add("nosuid");
        }

        if (options.NoDev)
        {
            opts.Add("nodev");
        }

        if (options.NoExec)
        {
            opts.Add("noexec");
        }

        var start = new System.Diagnostics.ProcessStartInfo(options.Fusermount ?? "fusermount3")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("-o");
        start.ArgumentList.Add(string.Join(',', opts));
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(full);
        start.Environment["_FUSE_COMMFD"] = sv[0].ToString(CultureInfo.InvariantCulture);
        int fd;
        string error;
        try
        {
            using var child = System.Diagnostics.Process.Start(start) ?? throw new IOException("cannot start fusermount3");
            Native.Close(sv[0]);
            sv[0] = -1;
            fd = NativeMount.ReceiveFd(sv[1]);
            error = child.StandardError.ReadToEnd().Trim();
            child.WaitForExit();
            if (child.ExitCode != 0 && fd > 0)
            {
                Native.Close(fd);
                fd = 0;
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new IOException($"cannot run fusermount3 (needed to mount as an ordinary user): {e.Message}", e);
        }
        finally
        {
            if (sv[0] >= 0)
            {
                Native.Close(sv[0]);
            }

            Native.Close(sv[1]);
        }

        if (fd <= 0)
        {
            throw new IOException(error.Length > 0 ? error : $"fusermount3 did not mount {full}");
        }

        NativeMount.Fcntl(fd, NativeMount.F_SETFD, 1);
        return fd;
    }

    private static ulong VfsFlags(FuseMountOptions o) =>
        (o.NoSuid ? Native.MS_NOSUID : 0) | (o.NoDev ? Native.MS_NODEV : 0) |
        (o.NoExec ? NativeMount.MS_NOEXEC : 0) | (o.ReadOnly ? NativeMount.MS_RDONLY : 0);

    /// <summary>
    /// mount -o remount of the VFS flags (ro/rw, nosuid, nodev, noexec) of the mount point:
    /// mount(2) with MS_REMOUNT|MS_BIND, which sets the flags of this mount. Root only.
    /// </summary>
    public void RemountFlags(bool readOnly, bool noSuid, bool noDev, bool noExec)
    {
        var flags = NativeMount.MS_REMOUNT | NativeMount.MS_BIND |
            VfsFlags(new FuseMountOptions { ReadOnly = readOnly, NoSuid = noSuid, NoDev = noDev, NoExec = noExec });
        if (NativeMount.Mount(null, MountPoint, null, flags, null) != 0)
        {
            throw new IOException($"remount of {MountPoint} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>
    /// Starts an unmount without waiting for the end: umount2 (lazily with <paramref name="lazy"/>),
    /// or fusermount3 -u [-z] when the mount was made through it. Returns 0 or the errno (EBUSY
    /// while in use). The serving threads stop once the kernel lets go; <see cref="Wait()"/> waits for that.
    /// </summary>
    public int DetachMountPoint(bool lazy)
    {
        if (!viaFusermount)
        {
            return Native.Umount2(MountPoint, lazy ? Native.MNT_DETACH : 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        var start = new System.Diagnostics.ProcessStartInfo(Options.Fusermount ?? "fusermount3")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(lazy ? "-uz" : "-u");
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(MountPoint);
        using var child = System.Diagnostics.Process.Start(start);
        if (child is null)
        {
            return Native.EINVAL;
        }

        child.StandardError.ReadToEnd();
        child.WaitForExit();
        return child.ExitCode == 0 ? 0 : 16; // EBUSY is what fusermount3 -u fails with in practice
    }

    /// <summary>
    /// Waits until the mount is gone and the engine unmounted: 0 when every invariant held,
    /// 1 when the engine's unmount reported a failure (see <see cref="UnmountError"/>).
    /// </summary>
    public int Wait()
    {
        session.Stopped.Wait();
        Finish();
        return exitCode;
    }

    /// <summary>As <see cref="Wait()"/>, giving up after <paramref name="timeout"/> (false).</summary>
    public bool Wait(TimeSpan timeout, out int code)
    {
        code = 0;
        if (!session.Stopped.Wait(timeout))
        {
            return false;
        }

        Finish();
        code = exitCode;
        return true;
    }

    /// <summary>umount(2) (EBUSY while in use) or, with <paramref name="lazy"/>, umount -l; then waits for the end.</summary>
    public int Unmount(bool lazy = false)
    {
        if (IsServing && DetachMountPoint(lazy) is var errno and not 0)
        {
            if (IsServing)
            {
                throw new IOException($"umount {MountPoint} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        return Wait();
    }

    /// <summary>
    /// Aborts the connection as if the server had died (echo 1 &gt; /sys/fs/fuse/connections/N/abort):
    /// callers get ENOTCONN until the mount point is unmounted. The threads then stop.
    /// </summary>
    public void Abort()
    {
        if (ConnectionId < 0)
        {
            throw new InvalidOperationException("the connection id is unknown");
        }

        var dir = "/sys/fs/fuse/connections";
        if (!System.IO.File.Exists($"{dir}/{ConnectionId}/abort"))
        {
            Native.Mount("fusectl", dir, "fusectl", 0, string.Empty);
        }

        System.IO.File.WriteAllText($"{dir}/{ConnectionId}/abort", "1");
    }

    /// <summary>Unmounts (lazily if busy), aborts the connection if it does not end, and releases everything.</summary>
    public void Dispose()
    {
        if (IsServing)
        {
            if (DetachMountPoint(lazy: false) != 0)
            {
                DetachMountPoint(lazy: true);
            }

            if (!session.Stopped.Wait(TimeSpan.FromSeconds(10)) && ConnectionId >= 0)
            {
                try
                {
                    Abort();
                }
                catch (IOException e)
                {
                    session.Log($"fuse: abort of connection {ConnectionId} failed: {e.Message}");
                }

                session.Stopped.Wait(TimeSpan.FromSeconds(10));
            }
        }

        if (!session.Stopped.IsSet)
        {
            session.Log($"fuse: {MountPoint} still served after unmount and abort; leaving its threads");
            return;
        }

        Finish();
    }

    /// <summary>
    /// One thread per two cores (1 to 8). A single client waiting on each reply (psync I/O,
    /// a create loop) is served fastest by one thread: it replies and reads the next request
    /// without a wake-up, where several threads take turns and each request wakes another
    /// one (measured on 2 cores: 60k against 42k 4 KiB reads/s, 0.58 s against 0.99 s for
    /// 10,000 creates; see docs/benchmarks.md).
    /// </summary>
    public static int DefaultThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 8);

    private void Start(int masterFd)
    {
        ConnectionId = FindConnectionId(MountPoint);
        session.Initialized = () =>
        {
            SetReadAhead(); // after INIT: its reply sets the window to min(ours, kernel's)
            StartRings();
        };
        session.PrepareRings = () => PrepareRings(masterFd);
        session.RingFailed = why =>
        {
            session.Log($"fuse: {MountPoint}: {why}; aborting the connection so that callers get ENOTCONN rather than wait for ever");
            try
            {
                Abort();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                session.Log($"fuse: abort of connection {ConnectionId} failed: {e.Message}");
            }
        };
        var count = Options.Threads > 0 ? Options.Threads : DefaultThreads;
        var fds = new List<int> { masterFd };
        for (var i = 1; i < count; i++)
        {
            var clone = Native.CloneDevice(masterFd);
            if (clone < 0)
            {
                session.Log($"fuse: FUSE_DEV_IOC_CLONE failed (errno {-clone}); serving with {fds.Count} thread(s)");
                break;
            }

            fds.Add(clone);
        }

        var device = new Worker[fds.Count];
        for (var i = 0; i < fds.Count; i++)
        {
            device[i] = new Worker(session, fds[i], FuseSession.RequestCapacity, FuseSession.ReplyCapacity, Options.PollBeforeSleep);
        }

        lock (workers)
        {
            workers.AddRange(device);
        }

        session.WorkersStarting(device.Length);
        for (var i = 0; i < device.Length; i++)
        {
            device[i].Start($"fuse {MountPoint} #{i}");
        }
    }

    /// <summary>The mount is gone: close what the kernel left open, unmount the engine, release the fds and buffers.</summary>
    private void Finish()
    {
        lock (finishGate)
        {
            if (finished)
            {
                return;
            }

            finished = true;
            ReleaseUringParameter(); // if INIT never came
            Worker[] all;
            lock (workers)
            {
                all = [.. workers];
            }

            foreach (var w in all)
            {
                w.Join(Timeout.InfiniteTimeSpan);
            }

            var left = session.CloseAllHandles();
            if (left > 0)
            {
                session.Log($"fuse: {left} handle(s) were still open when {MountPoint} went away; closed");
            }

            try
            {
                if (!FileSystem.IsUnmounted)
                {
                    FileSystem.Unmount();
                }
            }
            catch (Exception e) when (e is InvalidOperationException or TmpfsException)
            {
                UnmountError = e;
                exitCode = 1;
                var message = $"fuse: UNMOUNT OF {MountPoint} FAILED ITS INVARIANTS: {e.Message}";
                session.Log(message);
                Console.Error.WriteLine(message);
            }

            foreach (var w in all)
            {
                if (w.Fd >= 0)
                {
                    Native.Close(w.Fd);
                }

                w.Dispose();
            }
        }
    }

    /// <summary>Raises the readahead window of the mount's bdi (only root may; a failure is logged and ignored). No FUSE request is involved.</summary>
    private void SetReadAhead()
    {
        var path = $"/sys/class/bdi/0:{ConnectionId}/read_ahead_kb";
        if (Options.ReadAheadKb <= 0 || ConnectionId < 0 || !System.IO.File.Exists(path))
        {
            return;
        }

        try
        {
            System.IO.File.WriteAllText(path, Options.ReadAheadKb.ToString(CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            session.Log($"fuse: cannot raise the readahead window ({path}: {e.Message}); reads use the kernel's default window");
        }
    }

    /// <summary>The minor device number of the mount at <paramref name="mountPoint"/>, from /proc/self/mountinfo.</summary>
    private static int FindConnectionId(string mountPoint)
    {
        try
        {
            var escaped = mountPoint.Replace(" ", "\\040", StringComparison.Ordinal);
            var id = -1;
            foreach (var line in System.IO.File.ReadLines("/proc/self/mountinfo"))
            {
                var parts = line.Split(' ');
                if (parts.Length > 4 && parts[4] == escaped && line.Contains(" - fuse.", StringComparison.Ordinal))
                {
                    var dev = parts[2].Split(':');
                    id = int.Parse(dev[1], CultureInfo.InvariantCulture); // the last one is the newest
                }
            }

            return id;
        }
        catch (IOException)
        {
            return -1;
        }
    }
}
