using System.CommandLine;
using System.CommandLine.Help;
using Tmpfs.Cli.Commands;

// tmpfs: the command-line front end of Tmpfs for .NET. One file per command in Commands/.
// The root is a plain command named "tmpfs" (a RootCommand would take the assembly's name).
var root = new Command("tmpfs", "tmpfs — the Linux tmpfs re-implemented in .NET")
{
    new HelpOption(),
    new VersionOption(),
    MountCommand.Create(),
    UmountCommand.Create(),
    RemountCommand.Create(),
    StatusCommand.Create(),
    SwaponCommand.Create(),
    SwapoffCommand.Create(),
    StressCommand.Create(),
    DaemonCommand.Create(),
};

// mount.fuse3 runs the program named by the type's suffix as "tmpfs SOURCE MOUNTPOINT -o OPTIONS"
// (for mount -t fuse.tmpfs and fstab lines): a first word that is no command is a source.
if (args.Length >= 2 && !args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0]))
{
    args = ["mount", "--source", args[0], .. args[1..]];
}

// Signals are handled by the commands that need a clean stop (stress removes its swap files).
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
catch (Tmpfs.Cli.Daemon.CliException e)
{
    // Errors in options, paths or the daemon's state: one line, non-zero.
    Console.Error.WriteLine(e.Message);
    return 1;
}
