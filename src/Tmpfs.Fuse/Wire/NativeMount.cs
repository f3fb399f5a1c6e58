using System.Runtime.InteropServices;

namespace Tmpfs.Fuse.Wire;

/// <summary>The libc calls mounting needs beyond <see cref="Native"/>: flags, socketpair and SCM_RIGHTS for fusermount3.</summary>
internal static unsafe partial class NativeMount
{
    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_NOEXEC = 0x8;
    public const ulong MS_REMOUNT = 0x20;
    public const ulong MS_BIND = 0x1000;
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public Native.IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string? source, string target, string? fstype, ulong flags, string? data);

    /// <summary>Receives one fd sent with SCM_RIGHTS on <paramref name="socket"/> (fusermount3's send_fd); -errno on failure, 0 at EOF.</summary>
    public static int ReceiveFd(int socket)
    {
        byte data;
        var control = stackalloc byte[64];
        var iov = new Native.IoVec { Base = &data, Length = 1 };
        var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        nint n;
        do
        {
            n = RecvMsg(socket, &msg, 0);
        }
        while (n < 0 && Marshal.GetLastPInvokeError() == Native.EINTR);

        if (n < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        if (n == 0 || msg.ControlLength < 20)
        {
            return 0;
        }

        // struct cmsghdr { size_t len; int level; int type; } then the data, at offset 16 on 64-bit.
        var level = *(int*)(control + 8);
        var type = *(int*)(control + 12);
        return level == SOL_SOCKET && type == SCM_RIGHTS ? *(int*)(control + 16) : 0;
    }
}
