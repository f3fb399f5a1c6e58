using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tmpfs.Cli.Daemon;

namespace Tmpfs.Cli.Commands;

/// <summary>tmpfs status [MOUNTPOINT] [--json]: each mount's usage, resident and swapped bytes; swap; the memory counters.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the daemon's answer as JSON" };
        var mountPoint = new Argument<string?>("MOUNTPOINT") { Description = "Only this tmpfs", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("status", "Show the tmpfs mounts the daemon serves: usage, resident and swapped bytes, swap, memory counters")
        {
            json, mountPoint,
        };
        command.SetAction(result => Run(result.GetValue(mountPoint), result.GetValue(json)));
        return command;
    }

    private static int Run(string? mountPoint, bool json)
    {
        var full = mountPoint is null ? null : Path.GetFullPath(mountPoint).TrimEnd('/');
        var response = ControlClient.TrySend(new ControlRequest { Op = "status", MountPoint = full });
        if (response is null)
        {
            if (full is not null)
            {
                Console.Error.WriteLine($"tmpfs: {mountPoint}: no tmpfs daemon is running");
                return 1;
            }

            Console.WriteLine("no tmpfs is mounted (no daemon is running)");
            return 0;
        }

        if (!response.Ok || response.Status is null)
        {
            Console.Error.WriteLine($"tmpfs: {response.Error}");
            return 1;
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(response.Status, ControlJson.Default.DaemonStatus));
            return 0;
        }

        var s = response.Status;
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"daemon pid {s.Pid}, RAM budget {Bytes(s.Budget)}, {s.Mounts.Count} mount(s)"));
        foreach (var m in s.Mounts)
        {
            Console.WriteLine();
            Console.WriteLine($"{m.MountPoint}  ({m.Source}, fuse.tmpfs {m.Options})");
            Console.WriteLine($"  size      {(m.SizeLimit == 0 ? "unlimited" : Bytes(m.SizeLimit))}");
            Console.WriteLine($"  used      {Bytes(m.UsedBytes)}");
            Console.WriteLine($"  resident  {Bytes(m.ResidentBytes)}");
            Console.WriteLine($"  swapped   {Bytes(m.SwappedBytes)}");
            Console.WriteLine(string.Create(c, $"  inodes    {m.UsedInodes} of {(m.InodeLimit == 0 ? "unlimited" : m.InodeLimit.ToString(c))}"));
            Console.WriteLine(string.Create(c, $"  open      {m.OpenHandles} handle(s)"));
        }

        Console.WriteLine();
        Console.WriteLine(s.Swaps.Count == 0 ? "swap: none" : "swap:");
        foreach (var d in s.Swaps)
        {
            Console.WriteLine(string.Create(c, $"  {d.Path}  size {Bytes(d.SizeBytes)}, used {Bytes(d.UsedBytes)}, priority {d.Priority}"));
        }

        Console.WriteLine("memory:");
        foreach (var (key, value) in s.MemInfo)
        {
            var bytes = !key.StartsWith("Pswp", StringComparison.Ordinal) && !key.StartsWith("Pg", StringComparison.Ordinal) &&
                !key.EndsWith("Errors", StringComparison.Ordinal) && key is not "AllocStall" and not "InvariantViolations";
            Console.WriteLine(string.Create(c, $"  {key,-20} {(bytes ? Bytes(value) : value.ToString(c))}"));
        }

        return 0;
    }

    private static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        var i = 0;
        while (v >= 1024 && i < units.Length - 1)
        {
            v /= 1024;
            i++;
        }

        return i == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{v:0.#} {units[i]} ({bytes})");
    }
}
