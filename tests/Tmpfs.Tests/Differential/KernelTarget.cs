using System.Buffers.Binary;
using System.Text;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// The oracle: the kernel's tmpfs. As root, a fresh tmpfs is mounted per sequence and the
/// sequence's thread chroots into it (after unshare(CLONE_FS), so only that thread), which
/// makes absolute symlinks and ".." at the root behave exactly as in the engine and lets
/// every operation be the plain path syscall. Callers are switched per operation with the
/// per-thread setfsuid/setfsgid/setgroups syscalls and capset. Without root, a directory
/// under /dev/shm stands in: one caller, no limits, no chroot (paths are prefixed).
/// </summary>
internal sealed class KernelTarget : IFsTarget
{
    private static int counter;

    private readonly string dir;
    private readonly bool mounted;
    private readonly string prefix;
    private int procFd = -1;
    private int oldRootFd = -1;
    private ulong savedEffective;
    private ulong savedPermitted;
    private bool began;

    public KernelTarget(string options)
    {
        Native.Init();
        var id = Interlocked.Increment(ref counter);
        if (IsRoot)
        {
            dir = Path.Combine(Path.GetTempPath(), $"tmpfs-diff-{Environment.ProcessId}-{id}");
            Directory.CreateDirectory(dir);
            var rc = Native.Mount("tmpfs", dir, "tmpfs", options);
            if (rc < 0)
            {
                Directory.Delete(dir);
                throw new InvalidOperationException($"mount tmpfs on {dir}: errno {-rc}");
            }

            mounted = true;
            prefix = string.Empty;
        }
        else
        {
            dir = Path.Combine("/dev/shm", $"tmpfs-diff-{Environment.ProcessId}-{id}");
            Directory.CreateDirectory(dir);
            Native.Chmod(dir, 0x3FF); // 01777 like the mounts (the engine's root gets this user as owner)
            prefix = dir;
        }
    }

    /// <summary>Whether this process is root (mounts, chroot and caller switching available).</summary>
    public static bool IsRoot { get; } = Native.Geteuid() == 0;

    public string Name => "kernel";

    public bool SupportsCallers => mounted;

    public bool HasLimits => mounted;

    /// <summary>Unmount leftovers of earlier test processes that died before their cleanup.</summary>
    public static void CleanStaleMounts()
    {
        if (!IsRoot)
        {
            return;
        }

        foreach (var line in File.ReadAllLines("/proc/self/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length < 3 || parts[2] != "tmpfs")
            {
                continue;
            }

            var m = parts[1];
            var name = Path.GetFileName(m);
            if (!name.StartsWith("tmpfs-diff-", StringComparison.Ordinal) ||
                !m.StartsWith(Path.GetTempPath().TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                continue;
            }

            var pidText = name["tmpfs-diff-".Length..].Split('-')[0];
            if (int.TryParse(pidText, out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                Native.Umount(m, Native.MNT_DETACH);
                try
                {
                    Directory.Delete(m);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>
    /// Load every assembly the test assembly references (transitively) and warm up what the
    /// runner uses: after chroot the runtime cannot open files any more on this thread.
    /// </summary>
    private static void PreloadForChroot()
    {
        lock (Preloaded)
        {
            if (Preloaded.Count > 0)
            {
                return;
            }

            var pending = new Stack<System.Reflection.Assembly>();
            pending.Push(typeof(KernelTarget).Assembly);
            while (pending.TryPop(out var assembly))
            {
                if (!Preloaded.Add(assembly.FullName ?? string.Empty))
                {
                    continue;
                }

                foreach (var reference in assembly.GetReferencedAssemblies())
                {
                    try
                    {
                        pending.Push(System.Reflection.Assembly.Load(reference));
                    }
                    catch (IOException)
                    {
                    }
                }
            }

            _ = Errno.ENOENT.ToString() + ((Errno)12345).ToString() + 1.5.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private static readonly HashSet<string> Preloaded = [];

    private static void MakeRemovable(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var sub in Directory.EnumerateDirectories(directory))
        {
            if (!new DirectoryInfo(sub).Attributes.HasFlag(FileAttributes.ReparsePoint))
            {
                MakeRemovable(sub);
            }
        }
    }

    public void Begin()
    {
        PreloadForChroot();
        procFd = Native.Open("/proc/self/fd", Native.O_PATH | Native.O_DIRECTORY, 0);
        Check(procFd, "open /proc/self/fd");
        Check(Native.Unshare(Native.CLONE_FS), "unshare(CLONE_FS)");
        Native.Umask(0);
        if (mounted)
        {
            oldRootFd = Native.Open("/", Native.O_PATH | Native.O_DIRECTORY, 0);
            Check(oldRootFd, "open /");
            Check(Native.Chroot(dir), "chroot");
            Check(Native.Chdir("/"), "chdir");
            Check(Native.Capget(out savedEffective, out savedPermitted), "capget");
        }

        began = true;
    }

    public void End()
    {
        if (!began)
        {
            return;
        }

        began = false;
        if (oldRootFd >= 0)
        {
            // Leave the chroot so this thread pins nothing of the mount, even if it lingers.
            Native.Fchdir(oldRootFd);
            Native.Chroot(".");
            Native.Close(oldRootFd);
            oldRootFd = -1;
        }

        if (procFd >= 0)
        {
            Native.Close(procFd);
            procFd = -1;
        }
    }

    public void SetCaller(Caller caller)
    {
        if (caller.IsRoot || !mounted)
        {
            return;
        }

        Check(Native.SetgroupsThread(caller.Groups), "setgroups");
        Native.Setfsgid(caller.Gid);
        Native.Setfsuid(caller.Uid);
        if (Native.Setfsuid(uint.MaxValue) != caller.Uid || Native.Setfsgid(uint.MaxValue) != caller.Gid)
        {
            throw new InvalidOperationException("setfsuid/setfsgid did not take effect");
        }

        // setfsuid to non-zero dropped the fs capabilities; drop the rest (CAP_SYS_ADMIN
        // for trusted.* xattrs, ...) as well: the caller is an ordinary user.
        Check(Native.Capset(0, savedPermitted), "capset");
    }

    public void RestoreRoot()
    {
        if (!mounted)
        {
            return;
        }

        Check(Native.Capset(savedEffective, savedPermitted), "capset restore");
        Native.Setfsuid(0);
        Native.Setfsgid(0);
        Check(Native.SetgroupsThread([]), "setgroups restore");
        if (Native.Setfsuid(uint.MaxValue) != 0 || Native.Setfsgid(uint.MaxValue) != 0)
        {
            throw new InvalidOperationException("could not restore fsuid/fsgid 0");
        }
    }

    private static void Check(long rc, string what)
    {
        if (rc < 0)
        {
            throw new InvalidOperationException($"{what}: errno {-rc}");
        }
    }

    private string P(string path) => prefix + path;

    private static int Fd(object handle) => ((Box)handle).Fd;

    private sealed class Box(int fd)
    {
        public int Fd { get; } = fd;
    }

    public int Open(string path, int flags, int mode, out object? handle)
    {
        var rc = Native.Open(P(path), flags, (uint)mode);
        handle = rc >= 0 ? new Box(rc) : null;
        return rc < 0 ? rc : 0;
    }

    public int Close(object handle) => Native.Close(Fd(handle));

    public int Read(object handle, Span<byte> buffer, long offset) => Native.Pread(Fd(handle), buffer, offset);

    public int Write(object handle, ReadOnlySpan<byte> data, long offset) => Native.Pwrite(Fd(handle), data, offset);

    public int FTruncate(object handle, long length) => Native.Ftruncate(Fd(handle), length);

    public int Fallocate(object handle, int mode, long offset, long length) =>
        Native.Fallocate(Fd(handle), mode, offset, length);

    public long Seek(object handle, long offset, int whence) => Native.Lseek(Fd(handle), offset, whence);

    public int FStat(object handle, out FsStat stat) =>
        StatCore(Fd(handle), string.Empty, Native.AT_EMPTY_PATH, out stat);

    public int FChmod(object handle, int mode) => Native.Fchmod(Fd(handle), (uint)mode);

    public int FChown(object handle, uint uid, uint gid) => Native.Fchown(Fd(handle), uid, gid);

    public int FUtimens(object handle, Ts atime, Ts mtime) =>
        Native.Futimens(Fd(handle), atime.Sec, atime.Nsec, mtime.Sec, mtime.Nsec);

    public int LinkHandle(object handle, string newPath) =>
        Native.LinkAtFollow(procFd, Fd(handle).ToString(System.Globalization.CultureInfo.InvariantCulture), P(newPath));

    public int Mkdir(string path, int mode) => Native.Mkdir(P(path), (uint)mode);

    public int Rmdir(string path) => Native.Rmdir(P(path));

    public int Unlink(string path) => Native.Unlink(P(path));

    public int Rename(string oldPath, string newPath, int flags) => Native.Rename(P(oldPath), P(newPath), (uint)flags);

    public int Link(string oldPath, string newPath) => Native.Link(P(oldPath), P(newPath));

    public int Symlink(string target, string linkPath) =>
        Native.Symlink(target.StartsWith('/') ? P(target) : target, P(linkPath));

    public int ReadLink(string path, out string target)
    {
        Span<byte> buf = stackalloc byte[4200];
        var rc = Native.ReadLink(P(path), buf);
        target = rc >= 0 ? Encoding.UTF8.GetString(buf[..rc]) : string.Empty;
        if (prefix.Length > 0 && target.StartsWith(prefix + "/", StringComparison.Ordinal))
        {
            target = target[prefix.Length..];
        }

        return rc < 0 ? rc : 0;
    }

    public int Mknod(string path, int mode, ulong rdev) => Native.Mknod(P(path), (uint)mode, rdev);

    public int Chmod(string path, int mode) => Native.Chmod(P(path), (uint)mode);

    public int Chown(string path, uint uid, uint gid, bool follow) => Native.Chown(P(path), uid, gid, follow);

    public int Utimens(string path, Ts atime, Ts mtime, bool follow) =>
        Native.Utimens(P(path), atime.Sec, atime.Nsec, mtime.Sec, mtime.Nsec, follow);

    public int Truncate(string path, long length) => Native.Truncate(P(path), length);

    public int Stat(string path, bool follow, out FsStat stat) =>
        StatCore(Native.AT_FDCWD, P(path), follow ? 0 : Native.AT_SYMLINK_NOFOLLOW, out stat);

    private static int StatCore(int dirfd, string path, int flags, out FsStat stat)
    {
        Span<byte> b = stackalloc byte[256];
        var rc = Native.Statx(dirfd, path, flags, b);
        if (rc < 0)
        {
            stat = default;
            return rc;
        }

        static Ts T(ReadOnlySpan<byte> b, int at) =>
            new(BinaryPrimitives.ReadInt64LittleEndian(b[at..]), BinaryPrimitives.ReadUInt32LittleEndian(b[(at + 8)..]));

        ulong major = BinaryPrimitives.ReadUInt32LittleEndian(b[128..]);
        ulong minor = BinaryPrimitives.ReadUInt32LittleEndian(b[132..]);

        // glibc's makedev(), the dev_t encoding mknod(2) takes.
        var rdev = ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
        stat = new FsStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
            Nlink: BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
            Uid: BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
            Gid: BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
            Size: BinaryPrimitives.ReadInt64LittleEndian(b[40..]),
            Blocks: BinaryPrimitives.ReadInt64LittleEndian(b[48..]),
            Rdev: rdev,
            Ino: BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
            Atime: T(b, 64),
            Mtime: T(b, 112),
            Ctime: T(b, 96));
        return 0;
    }

    public int Access(string path, int mode) => Native.Access(P(path), mode);

    public int ReadDir(string path, List<(string Name, int Type)> entries)
    {
        var fd = Native.Open(P(path), Native.O_RDONLY | Native.O_DIRECTORY, 0);
        if (fd < 0)
        {
            return fd;
        }

        try
        {
            var buf = new byte[32768];
            while (true)
            {
                var n = Native.Getdents(fd, buf);
                if (n <= 0)
                {
                    return n;
                }

                for (var pos = 0; pos < n;)
                {
                    var reclen = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(pos + 16));
                    var type = buf[pos + 18];
                    var name = buf.AsSpan(pos + 19, reclen - 19);
                    name = name[..name.IndexOf((byte)0)];
                    var s = Encoding.UTF8.GetString(name);
                    if (s is not ("." or ".."))
                    {
                        entries.Add((s, type << 12)); // DT_x << 12 == S_IFx
                    }

                    pos += reclen;
                }
            }
        }
        finally
        {
            Native.Close(fd);
        }
    }

    public int SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags, bool follow) =>
        Native.SetXattr(P(path), name, value, flags, follow);

    public int GetXattr(string path, string name, Span<byte> buffer, bool follow) =>
        Native.GetXattr(P(path), name, buffer, follow);

    public int ListXattr(string path, List<string> names, bool follow)
    {
        var buf = new byte[65536];
        var rc = Native.ListXattr(P(path), buf, follow);
        if (rc < 0)
        {
            return rc;
        }

        foreach (var part in Encoding.UTF8.GetString(buf, 0, rc).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            names.Add(part);
        }

        return 0;
    }

    public int RemoveXattr(string path, string name, bool follow) => Native.RemoveXattr(P(path), name, follow);

    public int StatFs(out FsStatFs statfs)
    {
        Span<long> b = stackalloc long[16];
        var rc = Native.StatFs(P("/"), b);
        statfs = rc < 0 ? default : new FsStatFs(b[2], b[3], b[4], b[5], b[6]);
        return rc;
    }

    public void Dispose()
    {
        End();
        if (mounted)
        {
            var rc = 0;
            for (var i = 0; i < 50; i++)
            {
                rc = Native.Umount(dir, 0);
                if (rc != -(int)Errno.EBUSY)
                {
                    break;
                }

                Thread.Sleep(10);
            }

            if (rc == -(int)Errno.EBUSY)
            {
                Native.Umount(dir, Native.MNT_DETACH);
            }

            try
            {
                Directory.Delete(dir);
            }
            catch (IOException)
            {
            }
        }
        else
        {
            // Operations may have left directories without write or search permission.
            MakeRemovable(dir);
            Directory.Delete(dir, recursive: true);
        }
    }
}
