using System.CommandLine;
using System.CommandLine.Help;
using Tmpfs.Cli.Commands;

// tmpfs: the command-line front end of Tmpfs for .NET. One file per command in Commands/.
// The root is a plain command named "tmpfs" (a RootCommand would take the assembly's name).
var root = new Command("tmpfs", "tmpfs — the Linux tmpfs re-implemented in .NET")
{
    new HelpOption(),
    new VersionOption(),
    StressCommand.Create(),
};

// Signals are handled by the commands that need a clean stop (stress removes its swap files).
return root.Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
