using System.Runtime.InteropServices;

namespace Tmpfs.Cli.Daemon;

/// <summary>The few libc calls the command needs: detaching the daemon, umount2 of a dead mount.</summary>
internal static partial class CliNative
{
    public const int MNT_DETACH = 2;
    private const int O_RDWR = 2;
    private const int O_WRONLY = 1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;

    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint GetEgid();

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int cmd, int arg);

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Becomes a daemon: a new session (no controlling terminal), stdin from /dev/null, stdout and stderr to <paramref name="log"/>.</summary>
    public static void Detach(string log)
    {
        _ = SetSid();
        var nul = Open("/dev/null", O_RDWR, 0);
        if (nul >= 0)
        {
            _ = Dup2(nul, 0);
            _ = Close(nul);
        }

        var fd = Open(log, O_WRONLY | O_CREAT | O_APPEND, 0x180 /* 0600 */);
        if (fd >= 0)
        {
            _ = Dup2(fd, 1);
            _ = Dup2(fd, 2);
            _ = Close(fd);
        }

        // Descriptors inherited without FD_CLOEXEC (a test runner's pipes, a shell's): .NET opens
        // all of its own with it, so these are not ours, and keeping them would hold pipes open.
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 2)
            {
                var flags = Fcntl(n, 1 /* F_GETFD */, 0);
                if (flags >= 0 && (flags & 1 /* FD_CLOEXEC */) == 0)
                {
                    _ = Close(n);
                }
            }
        }
    }
}
