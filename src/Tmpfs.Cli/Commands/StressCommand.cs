using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tmpfs.Cli.Stress;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// tmpfs stress: the seed's reproducer (300 loops of mount / dd / umount) run in-process
/// under memory pressure with swap, with a live progress line and a report at the end.
/// Exit code 0 when the run passed, 1 when it found violations, leaks or unexpected errors,
/// 2 when it could not start, 130 when interrupted (and otherwise clean).
/// </summary>
internal static class StressCommand
{
    public static Command Create()
    {
        var defaults = new StressOptions();
        var workers = new Option<int>("--workers", "-w")
        {
            Description = "Worker threads, each looping mount / write / verify / unmount (the seed ran 300)",
            DefaultValueFactory = _ => defaults.Workers,
        };
        var duration = new Option<TimeSpan?>("--duration", "-d")
        {
            Description = "How long to run: 60s, 2m, 500ms, 1h, or hh:mm:ss [default: 60s]",
            CustomParser = r => CliValues.Duration(r),
        };
        var budget = new Option<long?>("--budget", "-b")
        {
            Description = "RAM budget all mounts share: 256M, 1G, ... [default: 256M]",
            CustomParser = r => CliValues.Size(r),
        };
        var swapSize = new Option<long?>("--swap-size", "-s")
        {
            Description = "Size of the swap file that stays on; a second file of a quarter of it cycles through swapon/swapoff [default: 1G]",
            CustomParser = r => CliValues.Size(r),
        };
        var cyclingSize = new Option<long?>("--cycling-swap-size")
        {
            Description = "Size of the cycling swap file (default: a quarter of --swap-size; 0: no cycling)",
            CustomParser = r => CliValues.Size(r),
        };
        var maxFile = new Option<long?>("--max-file", "-m")
        {
            Description = "Each loop writes a file of a random size from 0 to this [default: 100M]",
            CustomParser = r => CliValues.Size(r),
        };
        var chunk = new Option<long?>("--chunk-size")
        {
            Description = "Size of each write and read, dd's bs= (a multiple of 4K) [default: 1M]",
            CustomParser = r => CliValues.Size(r),
        };
        var seed = new Option<int?>("--seed")
        {
            Description = "Seed for file sizes and data (default: random, printed in the report)",
        };
        var swapDir = new Option<string?>("--swap-dir")
        {
            Description = "Directory for the swap files (a run directory is made inside and removed at the end); default /tmp or /var/tmp, whichever is not a tmpfs",
        };
        var checkEvery = new Option<int>("--check-every")
        {
            Description = "Each worker checks its mount's consistency before every Nth unmount (0: never)",
            DefaultValueFactory = _ => defaults.CheckEvery,
        };
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Log every swapon and swapoff",
        };

        var command = new Command("stress", "Run the seed's reproducer in-process: many loops of mount, write a file of random size, read it back, umount, " +
            "on one RAM budget far below what they write, with swapoff/swapon cycling beside them; then check for violations and leaks")
        {
            workers, duration, budget, swapSize, cyclingSize, maxFile, chunk, seed, swapDir, checkEvery, verbose,
        };

        command.SetAction(result =>
        {
            var options = new StressOptions
            {
                Workers = result.GetValue(workers),
                Duration = result.GetValue(duration) ?? defaults.Duration,
                Budget = result.GetValue(budget) ?? defaults.Budget,
                SwapSize = result.GetValue(swapSize) ?? defaults.SwapSize,
                CyclingSwapSize = result.GetValue(cyclingSize),
                MaxFile = result.GetValue(maxFile) ?? defaults.MaxFile,
                ChunkSize = (int)Math.Clamp(result.GetValue(chunk) ?? defaults.ChunkSize, 0, int.MaxValue),
                Seed = result.GetValue(seed) ?? Random.Shared.Next(),
                SwapDirectory = result.GetValue(swapDir),
                CheckEvery = result.GetValue(checkEvery),
            };
            return Run(options, result.GetValue(verbose));
        });
        return command;
    }

    private static int Run(StressOptions options, bool verbose)
    {
        using var loggerFactory = LoggerFactory.Create(b => b
            .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            })
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var logger = loggerFactory.CreateLogger("tmpfs.stress");

        // Ctrl-C and SIGTERM stop the workers; the run still unmounts, swaps off and removes its files.
        using var cancel = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine($"{context.Signal}: stopping; unmounting and removing the swap files");
                cancel.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);

        StressRunner runner;
        try
        {
            runner = new StressRunner(options, logger);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"tmpfs stress: {e.Message}");
            return 2;
        }

        var live = new ProgressLine(Console.Out, interactive: !Console.IsOutputRedirected);
        StressReport report;
        try
        {
            report = runner.Run(live.Show, cancel.Token);
        }
        catch (Exception e) when (e is IOException or TmpfsException or UnauthorizedAccessException)
        {
            live.End();
            Console.Error.WriteLine($"tmpfs stress: cannot run: {e.Message}");
            return 2;
        }

        live.End();
        Console.Out.Write(report.ToString());
        return !report.Passed ? 1 : report.Interrupted ? 130 : 0;
    }
}
