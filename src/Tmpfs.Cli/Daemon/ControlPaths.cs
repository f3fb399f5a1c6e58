using System.Globalization;

namespace Tmpfs.Cli.Daemon;

/// <summary>
/// Where the daemon listens: $TMPFS_CONTROL_SOCKET if set; as root /run/tmpfs-dotnet/control.sock;
/// otherwise $XDG_RUNTIME_DIR/tmpfs-dotnet/control.sock or /tmp/tmpfs-dotnet-UID/control.sock.
/// The lock file (held by the live daemon) and the log sit beside the socket.
/// </summary>
internal static class ControlPaths
{
    public static string Socket
    {
        get
        {
            var set = Environment.GetEnvironmentVariable("TMPFS_CONTROL_SOCKET");
            if (!string.IsNullOrEmpty(set))
            {
                return Path.GetFullPath(set);
            }

            var uid = CliNative.GetUid();
            if (uid == 0)
            {
                return "/run/tmpfs-dotnet/control.sock";
            }

            var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            return !string.IsNullOrEmpty(runtime) && Directory.Exists(runtime)
                ? Path.Combine(runtime, "tmpfs-dotnet", "control.sock")
                : string.Create(CultureInfo.InvariantCulture, $"/tmp/tmpfs-dotnet-{uid}/control.sock");
        }
    }

    public static string Lock => Socket + ".lock";

    public static string Log => Path.Combine(Path.GetDirectoryName(Socket)!, "daemon.log");

    /// <summary>Creates the socket's directory, private to its owner when we make it.</summary>
    public static void EnsureDirectory()
    {
        var dir = Path.GetDirectoryName(Socket)!;
        if (!Directory.Exists(dir) && OperatingSystem.IsLinux())
        {
            try
            {
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new CliException($"tmpfs: cannot create the control directory {dir}: {e.Message} (set TMPFS_CONTROL_SOCKET or XDG_RUNTIME_DIR to a directory you own)");
            }
        }
    }
}
