using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>tmpfs swapoff FILE: brings the file's pages back into memory and removes it (ENOMEM when they do not fit).</summary>
internal static class SwapoffCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "The swap file" };
        var command = new Command("swapoff", "Switch off a swap file of the daemon (its pages come back into memory)") { file };
        command.SetAction(result =>
        {
            var path = Path.GetFullPath(result.GetValue(file)!);
            return Reply.Print(ControlClient.Send(new ControlRequest { Op = "swapoff", Path = path }), "swapoff " + path);
        });
        return command;
    }
}

/// <summary>Prints a daemon's failure as one line.</summary>
internal static class Reply
{
    public static int Print(ControlResponse response, string what)
    {
        if (response.Ok)
        {
            return 0;
        }

        Console.Error.WriteLine($"tmpfs: {what}: {response.Error}");
        return 1;
    }
}
