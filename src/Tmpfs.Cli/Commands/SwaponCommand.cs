using System.CommandLine;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>tmpfs swapon FILE [--size SIZE] [--priority N]: adds a swap file to the daemon's shared memory.</summary>
internal static class SwaponCommand
{
    public static Command Create()
    {
        var size = new Option<long?>("--size", "-s")
        {
            Description = "Size of the swap area: 512M, 2G, ... (a missing file is created and removed at swapoff) [default: the RAM budget]",
            CustomParser = r => CliValues.Size(r),
        };
        var priority = new Option<int>("--priority", "-p")
        {
            Description = "Priority, -1 to 32767: higher is used first, equal ones take turns",
            DefaultValueFactory = _ => -1,
        };
        var file = new Argument<string>("FILE") { Description = "The swap file" };
        var command = new Command("swapon", "Switch on a swap file for the tmpfs mounts of the daemon") { size, priority, file };
        command.SetAction(result =>
        {
            var p = result.GetValue(priority);
            if (p is < -1 or > 32767)
            {
                Console.Error.WriteLine("tmpfs: swapon: --priority must be -1 to 32767");
                return 1;
            }

            var path = Path.GetFullPath(result.GetValue(file)!);
            return Reply.Print(ControlClient.Send(new ControlRequest { Op = "swapon", Path = path, Size = result.GetValue(size) ?? 0, Priority = p }), "swapon " + path);
        });
        return command;
    }
}
