using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// tmpfs remount -o OPTIONS MOUNTPOINT: changes a live mount as mount -o remount does for the
/// kernel's tmpfs (size, nr_blocks, nr_inodes, ro/rw, nosuid, nodev, noexec), with its errors.
/// mount -o remount,... MOUNTPOINT reaches the same code through mount.fuse3.
/// </summary>
internal static class RemountCommand
{
    public static Command Create()
    {
        var options = new Option<string[]>("--options", "-o")
        {
            Description = "Options to change: size, nr_blocks, nr_inodes, inode64, ro/rw, nosuid/suid, nodev/dev, noexec/exec",
            Required = true,
        };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "The mounted tmpfs" };
        var command = new Command("remount", "Change a live tmpfs's limits and flags (as mount -o remount)") { options, mountPoint };
        command.SetAction(result =>
        {
            try
            {
                var text = string.Join(',', result.GetValue(options) ?? []);
                CliMountOptions.Parse(text);
                return Send(Path.GetFullPath(result.GetValue(mountPoint)!), text);
            }
            catch (CliException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }

    public static int Send(string mountPoint, string options)
    {
        var response = ControlClient.Send(new ControlRequest { Op = "remount", MountPoint = mountPoint, Options = options });
        if (response.Ok)
        {
            return 0;
        }

        Console.Error.WriteLine($"tmpfs: remount {mountPoint}: {response.Error}");
        return MountCommand.MountFailure;
    }
}
