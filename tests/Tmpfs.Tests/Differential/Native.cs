using System.Reflection;
using System.Runtime.InteropServices;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// The whole unsafe/interop surface of the differential test: thin libc bindings that
/// return -errno on failure (read with <see cref="Marshal.GetLastPInvokeError"/>) and
/// never throw, so the kernel side can run inside a chroot without touching managed
/// exception machinery.
/// </summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80;
    public const int O_TRUNC = 0x200, O_APPEND = 0x400, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000;
    public const int O_NOATIME = 0x40000, O_CLOEXEC = 0x80000, O_PATH = 0x200000, O_TMPFILE = 0x410000;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200;
    public const int AT_SYMLINK_FOLLOW = 0x400, AT_EACCESS = 0x200, AT_EMPTY_PATH = 0x1000;
    public const int CLONE_FS = 0x200;
    public const int MNT_DETACH = 2;
    public const uint StatxBasicStats = 0x7ff;

    private static readonly nint LibcHandle = NativeLibrary.Load("libc.so.6");
    private static readonly bool IsArm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    // Raw syscall numbers: x86-64 / the generic table (arm64).
    private static long SysSetgroups => IsArm64 ? 159 : 116;

    private static long SysSetfsuid => IsArm64 ? 151 : 122;

    private static long SysSetfsgid => IsArm64 ? 152 : 123;

    private static long SysCapget => IsArm64 ? 90 : 125;

    private static long SysCapset => IsArm64 ? 91 : 126;

    private static long SysRenameat2 => IsArm64 ? 276 : 316;

    private const long SysFaccessat2 = 439; // same number on every architecture

    /// <summary>
    /// Resolve "libc" to the already loaded glibc handle. Binding a P/Invoke then needs
    /// only dlsym, no file access, which matters on the chrooted kernel thread.
    /// </summary>
    public static void Init()
    {
        _ = LibcHandle;
    }

    static Native()
    {
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            throw new PlatformNotSupportedException("syscall numbers are only known for x86-64 and arm64");
        }

        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name == Libc ? LibcHandle : 0;

    private static int Err(long rc) => rc < 0 ? -Marshal.GetLastPInvokeError() : (int)rc;

    private static long ErrL(long rc) => rc < 0 ? -Marshal.GetLastPInvokeError() : rc;

    // ---- process / credentials -------------------------------------------------------

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport(Libc, EntryPoint = "getegid")]
    public static partial uint Getegid();

    [LibraryImport(Libc, EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport(Libc, EntryPoint = "unshare", SetLastError = true)]
    private static partial int unshare(int flags);

    [LibraryImport(Libc, EntryPoint = "chroot", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chroot(string path);

    [LibraryImport(Libc, EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chdir(string path);

    public static int Unshare(int flags) => Err(unshare(flags));

    public static int Chroot(string path) => Err(chroot(path));

    public static int Chdir(string path) => Err(chdir(path));

    [LibraryImport(Libc, EntryPoint = "fchdir", SetLastError = true)]
    private static partial int fchdir(int fd);

    public static int Fchdir(int fd) => Err(fchdir(fd));

    /// <summary>setfsuid(2) for the calling thread only; returns the previous fsuid.</summary>
    public static int Setfsuid(uint uid) => (int)Syscall(SysSetfsuid, uid, 0, 0, 0, 0, 0);

    public static int Setfsgid(uint gid) => (int)Syscall(SysSetfsgid, gid, 0, 0, 0, 0, 0);

    /// <summary>The raw setgroups syscall: changes the calling thread only (glibc's wrapper broadcasts).</summary>
    public static int SetgroupsThread(ReadOnlySpan<uint> groups)
    {
        fixed (uint* p = groups)
        {
            return Err(Syscall(SysSetgroups, groups.Length, (long)p, 0, 0, 0, 0));
        }
    }

    private const uint CapabilityVersion3 = 0x20080522;

    /// <summary>capget for the calling thread: the 64-bit effective and permitted sets.</summary>
    public static int Capget(out ulong effective, out ulong permitted)
    {
        var header = stackalloc uint[2] { CapabilityVersion3, 0 };
        var data = stackalloc uint[6];
        var rc = Err(Syscall(SysCapget, (long)header, (long)data, 0, 0, 0, 0));
        effective = data[0] | ((ulong)data[3] << 32);
        permitted = data[1] | ((ulong)data[4] << 32);
        return rc;
    }

    /// <summary>capset for the calling thread (inheritable set cleared).</summary>
    public static int Capset(ulong effective, ulong permitted)
    {
        var header = stackalloc uint[2] { CapabilityVersion3, 0 };
        var data = stackalloc uint[6]
        {
            (uint)effective, (uint)permitted, 0, (uint)(effective >> 32), (uint)(permitted >> 32), 0,
        };
        return Err(Syscall(SysCapset, (long)header, (long)data, 0, 0, 0, 0));
    }

    // ---- mounts ----------------------------------------------------------------------

    [LibraryImport(Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string fstype, nuint flags, string data);

    [LibraryImport(Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    /// <summary>mount(2) with MS_NODEV: device nodes the test creates must never reach real devices.</summary>
    public static int Mount(string source, string target, string fstype, string data) =>
        Err(mount(source, target, fstype, 4, data));

    public static int Umount(string target, int flags) => Err(umount2(target, flags));

    // ---- paths -----------------------------------------------------------------------

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int openat(int dirfd, string path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport(Libc, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport(Libc, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rmdir(string path);

    [LibraryImport(Libc, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlink(string path);

    [LibraryImport(Libc, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldPath, string newPath);

    [LibraryImport(Libc, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int linkat(int olddirfd, string oldPath, int newdirfd, string newPath, int flags);

    [LibraryImport(Libc, EntryPoint = "symlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlink(string target, string linkPath);

    [LibraryImport(Libc, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint readlink(string path, byte* buf, nuint size);

    [LibraryImport(Libc, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport(Libc, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport(Libc, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fchownat(int dirfd, string path, uint uid, uint gid, int flags);

    [LibraryImport(Libc, EntryPoint = "truncate", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int truncate(string path, long length);

    [LibraryImport(Libc, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int utimensat(int dirfd, string path, long* times, int flags);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport(Libc, EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statfs(string path, long* buf);

    [LibraryImport(Libc, EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getxattr(string path, string name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "listxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint listxattr(string path, byte* list, nuint size);

    [LibraryImport(Libc, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint llistxattr(string path, byte* list, nuint size);

    [LibraryImport(Libc, EntryPoint = "removexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int removexattr(string path, string name);

    [LibraryImport(Libc, EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lremovexattr(string path, string name);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long SyscallPath2(long nr, int dfd1, string p1, int dfd2, string p2, uint flags);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long SyscallFaccessat2(long nr, int dfd, string path, int mode, int flags);

    public static int Open(string path, int flags, uint mode) => Err(openat(AT_FDCWD, path, flags | O_CLOEXEC, mode));

    public static int OpenAt(int dirfd, string path, int flags) => Err(openat(dirfd, path, flags | O_CLOEXEC, 0));

    public static int Close(int fd) => Err(close(fd));

    public static int Mkdir(string path, uint mode) => Err(mkdir(path, mode));

    public static int Rmdir(string path) => Err(rmdir(path));

    public static int Unlink(string path) => Err(unlink(path));

    public static int Link(string oldPath, string newPath) => Err(link(oldPath, newPath));

    /// <summary>linkat(dirfd, name, AT_FDCWD, newPath, AT_SYMLINK_FOLLOW): used with a /proc/self/fd directory fd.</summary>
    public static int LinkAtFollow(int dirfd, string name, string newPath) =>
        Err(linkat(dirfd, name, AT_FDCWD, newPath, AT_SYMLINK_FOLLOW));

    public static int Symlink(string target, string linkPath) => Err(symlink(target, linkPath));

    public static int Mknod(string path, uint mode, ulong dev) => Err(mknod(path, mode, dev));

    public static int Chmod(string path, uint mode) => Err(chmod(path, mode));

    public static int Chown(string path, uint uid, uint gid, bool follow) =>
        Err(fchownat(AT_FDCWD, path, uid, gid, follow ? 0 : AT_SYMLINK_NOFOLLOW));

    public static int Truncate(string path, long length) => Err(truncate(path, length));

    public static int Rename(string oldPath, string newPath, uint flags) =>
        Err(SyscallPath2(SysRenameat2, AT_FDCWD, oldPath, AT_FDCWD, newPath, flags));

    /// <summary>faccessat2 with AT_EACCESS: checks with the fsuid/fsgid, as the engine's Access does.</summary>
    public static int Access(string path, int mode) =>
        Err(SyscallFaccessat2(SysFaccessat2, AT_FDCWD, path, mode, AT_EACCESS));

    public static int Utimens(string path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec, bool follow)
    {
        var ts = stackalloc long[4] { atimeSec, atimeNsec, mtimeSec, mtimeNsec };
        return Err(utimensat(AT_FDCWD, path, ts, follow ? 0 : AT_SYMLINK_NOFOLLOW));
    }

    public static int ReadLink(string path, Span<byte> buf)
    {
        fixed (byte* p = buf)
        {
            return Err(readlink(path, p, (nuint)buf.Length));
        }
    }

    /// <summary>statx into a 256-byte struct statx buffer; fd-relative with an empty path for fstat.</summary>
    public static int Statx(int dirfd, string path, int flags, Span<byte> buf)
    {
        fixed (byte* p = buf)
        {
            return Err(statx(dirfd, path, flags, StatxBasicStats, p));
        }
    }

    /// <summary>statfs into 16 longs: type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize, ...</summary>
    public static int StatFs(string path, Span<long> buf)
    {
        fixed (long* p = buf)
        {
            return Err(statfs(path, p));
        }
    }

    public static int SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags, bool follow)
    {
        fixed (byte* p = value)
        {
            // A non-null pointer even for an empty value, as a C caller would pass.
            var v = p == null ? (byte*)1 : p;
            return Err(follow ? setxattr(path, name, v, (nuint)value.Length, flags)
                : lsetxattr(path, name, v, (nuint)value.Length, flags));
        }
    }

    public static int GetXattr(string path, string name, Span<byte> buf, bool follow)
    {
        fixed (byte* p = buf)
        {
            return Err(follow ? getxattr(path, name, p, (nuint)buf.Length) : lgetxattr(path, name, p, (nuint)buf.Length));
        }
    }

    public static int ListXattr(string path, Span<byte> buf, bool follow)
    {
        fixed (byte* p = buf)
        {
            return Err(follow ? listxattr(path, p, (nuint)buf.Length) : llistxattr(path, p, (nuint)buf.Length));
        }
    }

    public static int RemoveXattr(string path, string name, bool follow) =>
        Err(follow ? removexattr(path, name) : lremovexattr(path, name));

    // ---- file descriptors ------------------------------------------------------------

    [LibraryImport(Libc, EntryPoint = "pread", SetLastError = true)]
    private static partial nint pread(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(Libc, EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint pwrite(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(Libc, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport(Libc, EntryPoint = "fallocate", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Libc, EntryPoint = "lseek", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);

    [LibraryImport(Libc, EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint getdents64(int fd, byte* buf, nuint count);

    public static int Pread(int fd, Span<byte> buf, long offset)
    {
        fixed (byte* p = buf)
        {
            return Err(pread(fd, p, (nuint)buf.Length, offset));
        }
    }

    public static int Pwrite(int fd, ReadOnlySpan<byte> buf, long offset)
    {
        fixed (byte* p = buf)
        {
            return Err(pwrite(fd, p, (nuint)buf.Length, offset));
        }
    }

    public static int Ftruncate(int fd, long length) => Err(ftruncate(fd, length));

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "fchown", SetLastError = true)]
    private static partial int fchown(int fd, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "futimens", SetLastError = true)]
    private static partial int futimens(int fd, long* times);

    public static int Fchmod(int fd, uint mode) => Err(fchmod(fd, mode));

    public static int Fchown(int fd, uint uid, uint gid) => Err(fchown(fd, uid, gid));

    public static int Futimens(int fd, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec)
    {
        var ts = stackalloc long[4] { atimeSec, atimeNsec, mtimeSec, mtimeNsec };
        return Err(futimens(fd, ts));
    }

    public static int Fallocate(int fd, int mode, long offset, long length) => Err(fallocate(fd, mode, offset, length));

    public static long Lseek(int fd, long offset, int whence) => ErrL(lseek(fd, offset, whence));

    public static int Getdents(int fd, Span<byte> buf)
    {
        fixed (byte* p = buf)
        {
            return Err(getdents64(fd, p, (nuint)buf.Length));
        }
    }
}
