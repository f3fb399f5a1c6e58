using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// tmpfs daemon: what tmpfs mount starts in the background (hidden). Detaches (setsid, stdin
/// from /dev/null, output to daemon.log beside the socket), serves, and exits once no mount is left.
/// </summary>
internal static class DaemonCommand
{
    public static Command Create()
    {
        var attached = new Option<bool>("--attached") { Description = "Stay in the foreground with output on the terminal" };
        var command = new Command("daemon", "Serve tmpfs mounts for the control socket (started by tmpfs mount)") { attached };
        command.Hidden = true;
        command.SetAction(result =>
        {
            ControlPaths.EnsureDirectory();
            if (!result.GetValue(attached))
            {
                CliNative.Detach(ControlPaths.Log);
            }

            using var daemon = TmpfsDaemon.TryStart(Console.Error, out _);
            return daemon?.Run(first: null) ?? 0;
        });
        return command;
    }
}
