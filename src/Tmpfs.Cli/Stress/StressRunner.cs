using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// The seed's reproducer, in-process: <see cref="StressOptions.Workers"/> threads loop
/// mount / write / verify / unmount on one <see cref="MemoryManager"/> whose budget is far
/// below what they write together, with one swap file on for the whole run and a second
/// one cycling through swapon and swapoff. When the time is up (or the token is cancelled)
/// the workers stop and unmount, and the run checks what must hold afterwards: no
/// violation on the way, a consistent budget, and, once swap is off, every frame free and
/// every swap slot released. The swap files are removed whatever happens.
/// </summary>
public sealed partial class StressRunner
{
    private readonly StressOptions options;
    private readonly ILogger logger;

    public StressRunner(StressOptions options, ILogger? logger = null)
    {
        options.Validate();
        this.options = options;
        this.logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Runs to the end of the duration or until <paramref name="cancel"/> fires, calling
    /// <paramref name="progress"/> about once a second; returns the report.
    /// </summary>
    public StressReport Run(Action<StressSnapshot>? progress = null, CancellationToken cancel = default)
    {
        var cycling = options.EffectiveCyclingSwapSize;
        var dir = SwapLocation.Create(options.SwapDirectory, options.SwapSize + cycling, out var warning);
        if (warning is not null)
        {
            LogWarning(warning);
        }

        try
        {
            return RunIn(dir, progress, cancel);
        }
        finally
        {
            SwapLocation.Remove(dir);
        }
    }

    private StressReport RunIn(string dir, Action<StressSnapshot>? progress, CancellationToken cancel)
    {
        var counters = new StressCounters();
        var memory = new MemoryManager(options.Budget);
        var primary = Path.Combine(dir, "swap0");
        var second = Path.Combine(dir, "swap1");
        memory.Swapon(primary, options.SwapSize, priority: 0);
        LogStart(options.Workers, options.Budget >> 20, options.SwapSize >> 20, dir);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var threads = new List<Thread>();
        for (var i = 0; i < options.Workers; i++)
        {
            var worker = new StressWorker(i, memory, options, counters, stop.Token);
            var t = new Thread(worker.Run, maxStackSize: 512 << 10) { IsBackground = true, Name = $"stress-{i}" };
            threads.Add(t);
        }

        SwapCycler? cycler = null;
        Thread? cyclerThread = null;
        if (options.EffectiveCyclingSwapSize > 0)
        {
            // Same priority as the first file: the two take turns while both are on.
            cycler = new SwapCycler(memory, second, options.EffectiveCyclingSwapSize, priority: 0, counters, logger, options.Seed, stop.Token);
            cyclerThread = new Thread(cycler.Run) { IsBackground = true, Name = "stress-swapcycle" };
        }

        var clock = Stopwatch.StartNew();
        foreach (var t in threads)
        {
            t.Start();
        }

        cyclerThread?.Start();

        // The main thread only watches: a progress snapshot a second until the time is up.
        var interval = TimeSpan.FromSeconds(1);
        var next = interval;
        while (!cancel.IsCancellationRequested)
        {
            var now = clock.Elapsed;
            if (now >= options.Duration)
            {
                break;
            }

            var wake = next < options.Duration ? next : options.Duration;
            if (wake > now && cancel.WaitHandle.WaitOne(wake - now + TimeSpan.FromMilliseconds(1)))
            {
                break;
            }

            if (clock.Elapsed >= next)
            {
                progress?.Invoke(Snapshot(counters, memory, clock.Elapsed));
                next += interval;
            }
        }

        var interrupted = cancel.IsCancellationRequested;
        stop.Cancel();
        LogStopping(interrupted ? "interrupted" : "time is up");

        var hung = 0;
        var deadline = Stopwatch.StartNew();
        foreach (var t in threads.Append(cyclerThread).OfType<Thread>())
        {
            var left = options.StopTimeout - deadline.Elapsed;
            if (!t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                hung++;
                counters.Note($"{t.Name} did not stop within {options.StopTimeout.TotalSeconds:0} s (deadlock?)");
            }
        }

        var elapsed = clock.Elapsed;
        var atStop = memory.MemInfo;
        progress?.Invoke(Snapshot(counters, memory, elapsed));
        if (hung > 0)
        {
            // Threads still inside the engine: neither check nor free the budget under them.
            LogHung(hung);
            return Report(counters, atStop, dir, elapsed, interrupted, hung, ["not checked: workers hung"], ["not checked: workers hung"]);
        }

        var (consistency, leaks) = FinalChecks(memory, cycler);
        return Report(counters, atStop, dir, elapsed, interrupted, 0, consistency, leaks);
    }

    /// <summary>
    /// Once every worker has unmounted: the budget must be consistent with nothing mounted,
    /// every swap slot free, then swapoff of both files must succeed and leave all memory free.
    /// </summary>
    private (List<string> Consistency, List<string> Leaks) FinalChecks(MemoryManager memory, SwapCycler? cycler)
    {
        var leaks = new List<string>();
        var mounts = memory.Mounts.Count;
        if (mounts != 0)
        {
            leaks.Add($"{mounts} mount(s) still mounted after every worker unmounted");
        }

        var consistency = memory.CheckConsistency().ToList();
        foreach (var device in memory.SwapDevices)
        {
            if (device.UsedBytes != 0)
            {
                leaks.Add($"{Units.Bytes(device.UsedBytes)} of swap slots still in use on '{device.Path}' with nothing mounted");
            }
        }

        foreach (var device in memory.SwapDevices)
        {
            try
            {
                memory.Swapoff(device.Path);
            }
            catch (TmpfsException e)
            {
                leaks.Add($"final swapoff of '{device.Path}' failed: {e.Errno}: {e.Message}");
            }
        }

        var info = memory.MemInfo;
        if (info.MemFree != info.MemTotal)
        {
            leaks.Add($"{Units.Bytes(info.MemTotal - info.MemFree)} of frames not free (MemFree {info.MemFree} != MemTotal {info.MemTotal})");
        }

        if (info.SwapCached != 0)
        {
            leaks.Add($"SwapCached {Units.Bytes(info.SwapCached)}");
        }

        if (info.Shmem != 0)
        {
            leaks.Add($"Shmem {Units.Bytes(info.Shmem)}");
        }

        if (memory.SwapDevices.Count != 0)
        {
            leaks.Add($"{memory.SwapDevices.Count} swap device(s) still on");
        }

        if (cycler is { IsOn: true } && memory.SwapDevices.Count == 0)
        {
            LogInfo("the cycling swap file was still on at the stop; the final swapoff took it off");
        }

        memory.Dispose();
        return (consistency, leaks);
    }

    private StressSnapshot Snapshot(StressCounters c, MemoryManager memory, TimeSpan elapsed) => new()
    {
        Elapsed = elapsed,
        Duration = options.Duration,
        Loops = StressCounters.Read(ref c.Loops),
        Mounts = StressCounters.Read(ref c.Mounts),
        BytesWritten = StressCounters.Read(ref c.BytesWritten),
        BytesVerified = StressCounters.Read(ref c.BytesVerified),
        Enospc = StressCounters.Read(ref c.EnospcWrites),
        SwapoffOk = StressCounters.Read(ref c.SwapoffOk),
        SwapoffEnomem = StressCounters.Read(ref c.SwapoffEnomem),
        Violations = StressCounters.Read(ref c.DataMismatches) + StressCounters.Read(ref c.ReadErrors) +
            StressCounters.Read(ref c.UnmountViolations) + StressCounters.Read(ref c.FsckProblems) + memory.MemInfo.InvariantViolations,
        Errors = StressCounters.Read(ref c.UnexpectedErrors) + StressCounters.Read(ref c.SwapoffFailed) + StressCounters.Read(ref c.SwaponFailed),
        Memory = memory.MemInfo,
    };

    private StressReport Report(StressCounters c, MemInfo atStop, string dir, TimeSpan elapsed, bool interrupted, int hung, List<string> consistency, List<string> leaks) => new()
    {
        Options = options,
        SwapDirectory = dir,
        Elapsed = elapsed,
        Interrupted = interrupted,
        Loops = c.Loops,
        LoopsCutShort = c.LoopsCutShort,
        Mounts = c.Mounts,
        Unmounts = c.Unmounts,
        LazyUnmounts = c.LazyUnmounts,
        BytesWritten = c.BytesWritten,
        BytesVerified = c.BytesVerified,
        FilesVerified = c.FilesVerified,
        EnospcWrites = c.EnospcWrites,
        EnospcWritesWithSwapFree = c.EnospcWritesWithSwapFree,
        ReadStalls = c.ReadStalls,
        ReadsAbandoned = c.ReadsAbandoned,
        DataMismatches = c.DataMismatches,
        ReadErrors = c.ReadErrors,
        UnmountViolations = c.UnmountViolations,
        FsckRuns = c.FsckRuns,
        FsckProblems = c.FsckProblems,
        EngineInvariantViolations = atStop.InvariantViolations,
        HungWorkers = hung,
        FinalConsistencyProblems = consistency,
        Leaks = leaks,
        UnexpectedErrors = c.UnexpectedErrors,
        SwaponOk = c.SwaponOk,
        SwaponFailed = c.SwaponFailed,
        SwapoffOk = c.SwapoffOk,
        SwapoffEnomem = c.SwapoffEnomem,
        SwapoffFailed = c.SwapoffFailed,
        Memory = atStop,
        Problems = c.Problems,
    };

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Workers} workers on a {BudgetMiB} MiB budget, {SwapMiB} MiB of swap in {Directory}")]
    private partial void LogStart(int workers, long budgetMiB, long swapMiB, string directory);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "stopping ({Why}): workers unmount, then the checks and swapoff")]
    private partial void LogStopping(string why);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "{Count} thread(s) did not stop: the budget is left as it is")]
    private partial void LogHung(int count);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Text}")]
    private partial void LogWarning(string text);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "{Text}")]
    private partial void LogInfo(string text);
}
