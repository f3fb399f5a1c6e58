using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// tmpfs mount [-o OPTIONS] [-f] [--source NAME] MOUNTPOINT, and the form mount.fuse3 runs for
/// <c>mount -t fuse.tmpfs SOURCE MOUNTPOINT -o OPTIONS</c> and fstab lines: <c>tmpfs SOURCE MOUNTPOINT -o OPTIONS</c>
/// (Program.cs turns it into this command). Without -f the mount is served by the daemon
/// (started when none runs); the command returns once the mount is live. Exit codes as mount(8):
/// 0 mounted, 1 bad usage or options, 32 the mount failed.
/// </summary>
internal static class MountCommand
{
    public const int MountFailure = 32;

    public static Command Create()
    {
        var options = new Option<string[]>("--options", "-o")
        {
            Description = "Comma-separated options: the kernel's tmpfs options (size, nr_blocks, nr_inodes, mode, uid, gid, " +
                "huge, mpol, inode32/inode64, noswap), the VFS flags ro/rw, nosuid/suid, nodev/dev, noexec/exec, " +
                "and ours: budget=SIZE (RAM the daemon's mounts share), swap=FILE, swap_size=SIZE, swap_prio=N, direct_io " +
                "(no copy of file data in the kernel's page cache: faster large reads and writes, every read a round trip), " +
                "io_uring=auto|on|off (FUSE over io_uring; auto uses it when /sys/module/fuse/parameters/enable_uring is Y); " +
                "remount changes a live mount (as mount -o remount)",
            AllowMultipleArgumentsPerToken = false,
        };
        var foreground = new Option<bool>("--foreground", "-f")
        {
            Description = "Serve in this process until unmounted (Ctrl-C unmounts) instead of in the background daemon",
        };
        var source = new Option<string?>("--source")
        {
            Description = "The source name shown in /proc/mounts and by df [default: tmpfs]",
        };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "An existing directory to mount on" };
        var command = new Command("mount", "Mount a tmpfs on MOUNTPOINT (also run by mount(8) as 'tmpfs SOURCE MOUNTPOINT -o OPTIONS' for type fuse.tmpfs)")
        {
            options, foreground, source, mountPoint,
        };
        command.SetAction(result => Run(
            string.Join(',', result.GetValue(options) ?? []),
            result.GetValue(foreground),
            result.GetValue(source),
            result.GetValue(mountPoint)!));
        return command;
    }

    private static int Run(string optionText, bool foreground, string? source, string mountPoint)
    {
        CliMountOptions options;
        string full;
        try
        {
            options = CliMountOptions.Parse(optionText);
            options.Validate(options.Budget ?? CliMountOptions.DefaultBudget());
            full = Path.GetFullPath(mountPoint).TrimEnd('/');
            full = full.Length == 0 ? "/" : full;
            if (!Directory.Exists(full))
            {
                throw new CliException($"tmpfs: mount point {mountPoint} does not exist");
            }

            if (options.Remount)
            {
                return RemountCommand.Send(full, optionText);
            }
        }
        catch (CliException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }

        var request = new ControlRequest { Op = "mount", MountPoint = full, Source = source ?? options.FsName, Options = optionText };
        try
        {
            return foreground ? RunForeground(request) : Report(ControlClient.SendStarting(request), full);
        }
        catch (CliException e)
        {
            Console.Error.WriteLine(e.Message);
            return MountFailure;
        }
    }

    private static int Report(ControlResponse response, string mountPoint)
    {
        if (response.Ok)
        {
            return 0;
        }

        Console.Error.WriteLine($"tmpfs: mount {mountPoint}: {response.Error}");
        return MountFailure;
    }

    private static int RunForeground(ControlRequest request)
    {
        using var daemon = TmpfsDaemon.TryStart(Console.Error, out var running);
        if (daemon is null)
        {
            throw new CliException($"tmpfs: a tmpfs daemon already serves {ControlPaths.Socket}: mount without -f to use it");
        }

        var mounted = 0;
        var code = daemon.Run(request, response => mounted = Report(response, request.MountPoint!));
        return mounted != 0 ? mounted : code;
    }
}
