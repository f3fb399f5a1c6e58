using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// tmpfs umount [-l] MOUNTPOINT: asks the daemon to unmount (umount2), which waits until the
/// engine's unmount ran its checks. A tmpfs whose daemon is gone (killed) is cleared with umount2 directly.
/// </summary>
internal static class UmountCommand
{
    public static Command Create()
    {
        var lazy = new Option<bool>("--lazy", "-l") { Description = "Detach now, end when the last user leaves (umount -l)" };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "The tmpfs to unmount" };
        var command = new Command("umount", "Unmount a tmpfs and wait until its server has finished (0: the engine's unmount checks passed)")
        {
            lazy, mountPoint,
        };
        command.SetAction(result => Run(result.GetValue(mountPoint)!, result.GetValue(lazy)));
        return command;
    }

    private static int Run(string mountPoint, bool lazy)
    {
        var full = Path.GetFullPath(mountPoint).TrimEnd('/');
        full = full.Length == 0 ? "/" : full;
        var response = ControlClient.TrySend(new ControlRequest { Op = "umount", MountPoint = full, Lazy = lazy });
        if (response is { Ok: true })
        {
            if (response.Message is not null)
            {
                Console.WriteLine($"tmpfs: {full}: {response.Message}");
            }

            return 0;
        }

        if (response is not null && response.Errno != "EINVAL")
        {
            Console.Error.WriteLine($"tmpfs: {response.Error}");
            return response.Errno == "EBUSY" ? 32 : 1;
        }

        // Not served by a live daemon: a tmpfs left by a killed one is cleared here.
        var entry = MountTable.Find(full);
        if (entry is not { Type: "fuse.tmpfs" })
        {
            Console.Error.WriteLine($"tmpfs: {mountPoint}: not a mounted tmpfs");
            return 32;
        }

        if (CliNative.Umount2(full, lazy ? CliNative.MNT_DETACH : 0) != 0)
        {
            Console.Error.WriteLine($"tmpfs: umount {full}: {CliNative.ErrorText(CliNative.LastErrno)}");
            return 32;
        }

        Console.WriteLine($"tmpfs: {full}: its server was gone; unmounted");
        return 0;
    }
}
