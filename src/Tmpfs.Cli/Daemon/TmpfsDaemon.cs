using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Tmpfs.Fuse;

namespace Tmpfs.Cli.Daemon;

/// <summary>
/// The daemon: serves every tmpfs mounted through <c>tmpfs mount</c> (or mount(8) and fstab)
/// from one process, so the mounts share one RAM budget and one swap as kernel mounts do.
/// It listens on a Unix socket (<see cref="ControlPaths"/>) for one-line JSON requests, holds
/// a lock file while it lives (so only one daemon serves a socket), and exits once it serves
/// no mount: when the last mount goes away (umount, umount -l, fusermount3 -u, tmpfs umount),
/// or when the mount it was started for failed. Swap is switched off (and the files it
/// created removed) as it exits.
/// </summary>
internal sealed class TmpfsDaemon : IDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Served> mounts = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim done = new(false);
    private readonly TextWriter log;
    private readonly FileStream lockFile;
    private readonly Socket listener;
    private MemoryManager? memory;
    private long budget;
    private bool closing;
    private int exitCode;
    private int inFlight;

    private TmpfsDaemon(FileStream lockFile, Socket listener, TextWriter log)
    {
        this.lockFile = lockFile;
        this.listener = listener;
        this.log = log;
    }

    /// <summary>
    /// Takes the daemon lock and binds the control socket. Null when another daemon holds
    /// the lock and answers (<paramref name="running"/> is then true).
    /// </summary>
    public static TmpfsDaemon? TryStart(TextWriter log, out bool running)
    {
        running = false;
        ControlPaths.EnsureDirectory();
        FileStream? lockFile = null;
        for (var i = 0; lockFile is null; i++)
        {
            try
            {
                // FileShare.None takes flock(LOCK_EX|LOCK_NB): released when the holder dies, even by kill -9.
                lockFile = new FileStream(ControlPaths.Lock, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (i < 50)
            {
                if (ControlClient.TrySend(new ControlRequest { Op = "ping" }) is { Ok: true })
                {
                    running = true;
                    return null;
                }

                Thread.Sleep(100); // a daemon that is exiting still holds it for a moment
            }
        }

        try
        {
            File.Delete(ControlPaths.Socket); // a dead daemon's socket: we hold the lock, so nobody serves it
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(ControlPaths.Socket));
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(ControlPaths.Socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            listener.Listen(64);
            lockFile.SetLength(0);
            lockFile.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
            lockFile.Flush();
            return new TmpfsDaemon(lockFile, listener, log);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Serves requests until the daemon has no mount left (or a signal stops it). Returns the exit code.</summary>
    public int Run(ControlRequest? first, Action<ControlResponse>? firstDone = null)
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        var acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "tmpfs control" };
        acceptor.Start();
        if (first is not null)
        {
            var response = Handle(first);
            firstDone?.Invoke(response);
        }
        else if (!done.Wait(TimeSpan.FromSeconds(30)))
        {
            lock (gate)
            {
                if (mounts.Count == 0)
                {
                    Log("no mount was asked for within 30 s; exiting");
                    BeginShutdown();
                }
            }
        }

        done.Wait();

        // The request that ended the last mount is still writing its answer: let it finish.
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref inFlight) > 0 && wait.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(10);
        }

        return exitCode;
    }

    public void Dispose()
    {
        listener.Dispose();
        lockFile.Dispose();
        done.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Log($"{context.Signal}: unmounting everything (lazily)");
        List<Served> all;
        lock (gate)
        {
            all = [.. mounts.Values];
            if (all.Count == 0)
            {
                BeginShutdown();
                return;
            }
        }

        foreach (var s in all)
        {
            s.Mount.DetachMountPoint(lazy: true);
        }
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            var thread = new Thread(() => Serve(client)) { IsBackground = true, Name = "tmpfs control client" };
            thread.Start();
        }
    }

    private void Serve(Socket client)
    {
        Interlocked.Increment(ref inFlight);
        try
        {
            ServeOne(client);
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    private void ServeOne(Socket client)
    {
        using (client)
        using (var stream = new NetworkStream(client, ownsSocket: false))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            ControlResponse response;
            try
            {
                var line = reader.ReadLine();
                if (line is null)
                {
                    return;
                }

                var request = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest);
                response = request is null ? Fail("EINVAL", "empty request") : Handle(request);
            }
            catch (JsonException e)
            {
                response = Fail("EINVAL", "bad request: " + e.Message);
            }
            catch (IOException)
            {
                return;
            }

            try
            {
                stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse) + "\n"));
            }
            catch (IOException)
            {
                // the client went away
            }
        }
    }

    /// <summary>Answers one request. After it, a daemon left without mounts exits.</summary>
    internal ControlResponse Handle(ControlRequest request)
    {
        try
        {
            return request.Op switch
            {
                "ping" => new ControlResponse { Ok = true, Message = Environment.ProcessId.ToString(CultureInfo.InvariantCulture) },
                "mount" => DoMount(request),
                "umount" => DoUmount(request),
                "remount" => DoRemount(request),
                "status" => DoStatus(request),
                "swapon" => DoSwapon(request),
                "swapoff" => DoSwapoff(request),
                _ => Fail("EINVAL", $"unknown request '{request.Op}'"),
            };
        }
        catch (CliException e)
        {
            return Fail("EINVAL", e.Message);
        }
        catch (TmpfsException e)
        {
            return Fail(e.Errno.ToString(), CliMountOptions.Text(e));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return Fail("EIO", e.Message);
        }
        finally
        {
            lock (gate)
            {
                if (mounts.Count == 0 && request.Op != "ping")
                {
                    BeginShutdown();
                }
            }
        }
    }

    private ControlResponse DoMount(ControlRequest r)
    {
        var options = CliMountOptions.Parse(r.Options);
        var mountPoint = Path.GetFullPath(r.MountPoint ?? throw new CliException("no mount point"));
        lock (gate)
        {
            if (closing)
            {
                return Fail("ESHUTDOWN", "the daemon is exiting; try again");
            }

            if (memory is null)
            {
                budget = options.Budget ?? CliMountOptions.DefaultBudget();
                memory = new MemoryManager(budget);
                Log($"budget {budget} bytes");
            }
            else if (options.Budget is long b && b != budget)
            {
                return Fail("EINVAL", $"tmpfs: the daemon already runs with budget={budget} (budget= applies when the daemon starts: unmount every tmpfs to change it)");
            }

            if (mounts.ContainsKey(mountPoint))
            {
                return Fail("EBUSY", $"{mountPoint} is already a tmpfs of this daemon");
            }

            if (options.Swap is string swap && !memory.SwapDevices.Any(d => d.Path == swap))
            {
                memory.Swapon(swap, options.SwapSize ?? budget, options.SwapPriority ?? -1);
                Log($"swapon {swap}");
            }

            // shmem_fill_super: the root belongs to the mounter (current_fsuid/fsgid) unless
            // uid=/gid= say otherwise; the daemon runs as the user who mounts.
            var fs = memory.Mount(options.EngineOptions, new Credentials(CliNative.GetEuid(), CliNative.GetEgid()));
            FuseMount mount;
            var source = string.IsNullOrEmpty(r.Source) ? options.FsName ?? "tmpfs" : r.Source;
            try
            {
                mount = FuseMount.Mount(fs, mountPoint, new FuseMountOptions
                {
                    Source = source,
                    ReadOnly = options.ReadOnly ?? false,
                    NoSuid = options.NoSuid ?? false,
                    NoDev = options.NoDev ?? false,
                    NoExec = options.NoExec ?? false,
                    DirectIo = options.DirectIo ?? false,
                    IoUring = options.IoUring ?? FuseIoUring.Auto,
                    Log = log,
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                fs.Unmount();
                return Fail("EIO", e.Message);
            }

            var served = new Served(mount, source, options);
            mounts.Add(mountPoint, served);
            new Thread(() => Watch(served)) { IsBackground = true, Name = "tmpfs watch " + mountPoint }.Start();

            // Live once INIT is answered: the first access waits for it.
            var probe = Task.Run(() => Directory.Exists(mountPoint));
            if (!probe.Wait(TimeSpan.FromSeconds(30)) || !probe.Result)
            {
                return Fail("EIO", $"{mountPoint} was mounted but does not answer");
            }

            Log($"mounted {source} on {mountPoint} ({served.Describe()})");
            return new ControlResponse { Ok = true };
        }
    }

    private void Watch(Served served)
    {
        var code = served.Mount.Wait();
        lock (gate)
        {
            mounts.Remove(served.Mount.MountPoint);
            if (code != 0)
            {
                exitCode = 1;
                Log($"unmount of {served.Mount.MountPoint} FAILED its checks: {served.Mount.UnmountError?.Message}");
            }
            else
            {
                Log($"unmounted {served.Mount.MountPoint}");
            }

            if (mounts.Count == 0)
            {
                BeginShutdown();
            }
        }
    }

    private ControlResponse DoUmount(ControlRequest r)
    {
        var served = Find(r.MountPoint);
        var errno = served.Mount.DetachMountPoint(r.Lazy);
        if (errno != 0)
        {
            return Fail(errno == 16 ? "EBUSY" : "EIO", $"umount {served.Mount.MountPoint}: {CliNative.ErrorText(errno)}");
        }

        if (r.Lazy)
        {
            return new ControlResponse { Ok = true, Message = "detached; the tmpfs ends when its last user leaves" };
        }

        return served.Mount.Wait() == 0
            ? new ControlResponse { Ok = true }
            : Fail("EIO", $"the unmount of {served.Mount.MountPoint} failed its checks: {served.Mount.UnmountError?.Message}");
    }

    private ControlResponse DoRemount(ControlRequest r)
    {
        var served = Find(r.MountPoint);
        var options = CliMountOptions.Parse(r.Options);
        lock (gate)
        {
            if (options.Budget is long b && b != budget)
            {
                return Fail("EINVAL", "tmpfs: budget= cannot change on remount (it applies when the daemon starts)");
            }

            if (options.DirectIo is bool d && d != served.Mount.Options.DirectIo)
            {
                return Fail("EINVAL", "tmpfs: direct_io cannot change on remount (it applies to the mount's opens from the start)");
            }

            if (options.IoUring is { } u && u != served.Mount.Options.IoUring)
            {
                return Fail("EINVAL", "tmpfs: io_uring cannot change on remount (the transport is chosen at INIT)");
            }

            served.Mount.FileSystem.Remount(options.EngineOptions);
            var ro = options.ReadOnly ?? served.ReadOnly;
            var nosuid = options.NoSuid ?? served.NoSuid;
            var nodev = options.NoDev ?? served.NoDev;
            var noexec = options.NoExec ?? served.NoExec;
            if ((ro, nosuid, nodev, noexec) != (served.ReadOnly, served.NoSuid, served.NoDev, served.NoExec))
            {
                served.Mount.RemountFlags(ro, nosuid, nodev, noexec);
                (served.ReadOnly, served.NoSuid, served.NoDev, served.NoExec) = (ro, nosuid, nodev, noexec);
            }

            Log($"remounted {served.Mount.MountPoint} ({served.Describe()})");
            return new ControlResponse { Ok = true };
        }
    }

    private ControlResponse DoStatus(ControlRequest r)
    {
        lock (gate)
        {
            var status = new DaemonStatus { Pid = Environment.ProcessId, Budget = budget };
            var list = r.MountPoint is null ? mounts.Values.ToList() : [Find(r.MountPoint)];
            foreach (var s in list.OrderBy(s => s.Mount.MountPoint, StringComparer.Ordinal))
            {
                var fs = s.Mount.FileSystem;
                if (fs.IsUnmounted)
                {
                    continue;
                }

                status.Mounts.Add(new MountStatus
                {
                    MountPoint = s.Mount.MountPoint,
                    Source = s.Source,
                    Options = s.Describe(),
                    SizeLimit = fs.SizeLimit,
                    UsedBytes = fs.UsedBytes,
                    ResidentBytes = fs.ResidentBytes,
                    SwappedBytes = fs.SwappedBytes,
                    InodeLimit = fs.InodeLimit,
                    UsedInodes = fs.UsedInodes,
                    OpenHandles = fs.OpenHandles,
                });
            }

            if (memory is not null)
            {
                foreach (var d in memory.SwapDevices)
                {
                    status.Swaps.Add(new SwapStatus(d.Path, d.SizeBytes, d.UsedBytes, d.Priority));
                }

                var m = memory.MemInfo;
                foreach (var p in typeof(MemInfo).GetProperties())
                {
                    if (p.PropertyType == typeof(long))
                    {
                        status.MemInfo[p.Name] = (long)p.GetValue(m)!;
                    }
                }
            }

            return new ControlResponse { Ok = true, Status = status };
        }
    }

    private ControlResponse DoSwapon(ControlRequest r)
    {
        lock (gate)
        {
            var m = memory ?? throw new CliException("no tmpfs is mounted");
            var path = Path.GetFullPath(r.Path ?? throw new CliException("swapon: no file"));
            m.Swapon(path, r.Size > 0 ? r.Size : budget, r.Priority);
            Log($"swapon {path}");
            return new ControlResponse { Ok = true };
        }
    }

    private ControlResponse DoSwapoff(ControlRequest r)
    {
        var m = memory ?? throw new CliException("no tmpfs is mounted");
        var path = Path.GetFullPath(r.Path ?? throw new CliException("swapoff: no file"));
        m.Swapoff(path); // may take a while: not under the gate
        Log($"swapoff {path}");
        return new ControlResponse { Ok = true };
    }

    private Served Find(string? mountPoint)
    {
        var full = Path.GetFullPath(mountPoint ?? throw new CliException("no mount point")).TrimEnd('/');
        lock (gate)
        {
            return mounts.TryGetValue(full.Length == 0 ? "/" : full, out var s)
                ? s
                : throw new TmpfsException(Errno.EINVAL, $"{full}: not a tmpfs of this daemon");
        }
    }

    /// <summary>Called under the gate: stop listening, switch swap off, release the budget and the lock.</summary>
    private void BeginShutdown()
    {
        if (closing)
        {
            return;
        }

        closing = true;
        Log("no mount left; exiting");
        try
        {
            File.Delete(ControlPaths.Socket);
        }
        catch (IOException)
        {
        }

        listener.Dispose();
        if (memory is not null)
        {
            foreach (var d in memory.SwapDevices)
            {
                try
                {
                    memory.Swapoff(d.Path);
                }
                catch (TmpfsException e)
                {
                    Log($"swapoff {d.Path}: {e.Message}");
                    exitCode = 1;
                }
            }

            var leaks = memory.CheckConsistency();
            foreach (var leak in leaks)
            {
                Log("memory check: " + leak);
                exitCode = 1;
            }

            memory.Dispose();
        }

        lockFile.Dispose();
        done.Set();
    }

    private void Log(string message)
    {
        log.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm:ss} tmpfs[{Environment.ProcessId}]: {message}");
        log.Flush();
    }

    private static ControlResponse Fail(string errno, string message) => new() { Ok = false, Errno = errno, Error = message };

    private sealed class Served(FuseMount mount, string source, CliMountOptions options)
    {
        public FuseMount Mount { get; } = mount;

        public string Source { get; } = source;

        public bool ReadOnly { get; set; } = options.ReadOnly ?? false;

        public bool NoSuid { get; set; } = options.NoSuid ?? false;

        public bool NoDev { get; set; } = options.NoDev ?? false;

        public bool NoExec { get; set; } = options.NoExec ?? false;

        /// <summary>The options as /proc/mounts would show them for a kernel tmpfs.</summary>
        public string Describe()
        {
            var fs = Mount.FileSystem;
            var parts = new List<string> { ReadOnly ? "ro" : "rw" };
            if (NoSuid)
            {
                parts.Add("nosuid");
            }

            if (NoDev)
            {
                parts.Add("nodev");
            }

            if (NoExec)
            {
                parts.Add("noexec");
            }

            parts.Add(string.Create(CultureInfo.InvariantCulture, $"size={fs.SizeLimit / 1024}k"));
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"nr_inodes={fs.InodeLimit}"));
            if (Mount.Options.DirectIo)
            {
                parts.Add("direct_io");
            }

            if (Mount.UsesIoUring)
            {
                parts.Add("io_uring");
            }

            return string.Join(',', parts);
        }
    }
}
