using Microsoft.Extensions.Logging;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// swapon / swapoff of a second swap file, over and over beside the workers, while the
/// first file keeps the system going. swapoff has to bring every page on the file back into
/// memory; when the budget cannot hold them it fails with ENOMEM and leaves the file on,
/// which under this much pressure is expected: it is counted, and tried again shortly.
/// </summary>
internal sealed partial class SwapCycler
{
    private readonly MemoryManager memory;
    private readonly string path;
    private readonly long size;
    private readonly int priority;
    private readonly StressCounters counters;
    private readonly ILogger logger;
    private readonly CancellationToken stop;
    private readonly Random rng;

    public SwapCycler(MemoryManager memory, string path, long size, int priority, StressCounters counters, ILogger logger, int seed, CancellationToken stop)
    {
        this.memory = memory;
        this.path = path;
        this.size = size;
        this.priority = priority;
        this.counters = counters;
        this.logger = logger;
        this.stop = stop;
        rng = new Random(seed);
    }

    /// <summary>True while the cycling file is a swap device (for the final swapoff).</summary>
    public bool IsOn { get; private set; }

    public void Run()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                memory.Swapon(path, size, priority);
                IsOn = true;
                StressCounters.Add(ref counters.SwaponOk);
                LogSwapon(path);
            }
            catch (TmpfsException e)
            {
                StressCounters.Add(ref counters.SwaponFailed);
                counters.Note($"swapon '{path}': {e.Errno}: {e.Message}");
                stop.WaitHandle.WaitOne(1000);
                continue;
            }

            // Let reclaim put pages on it, then take it away again.
            if (stop.WaitHandle.WaitOne(rng.Next(200, 1500)))
            {
                return;
            }

            while (!stop.IsCancellationRequested)
            {
                try
                {
                    memory.Swapoff(path);
                    IsOn = false;
                    StressCounters.Add(ref counters.SwapoffOk);
                    LogSwapoff(path);
                    break;
                }
                catch (TmpfsException e) when (e.Errno == Errno.ENOMEM)
                {
                    StressCounters.Add(ref counters.SwapoffEnomem);
                    LogSwapoffEnomem(path);
                    stop.WaitHandle.WaitOne(rng.Next(50, 500));
                }
                catch (TmpfsException e)
                {
                    StressCounters.Add(ref counters.SwapoffFailed);
                    counters.Note($"swapoff '{path}': {e.Errno}: {e.Message}");
                    stop.WaitHandle.WaitOne(1000);
                }
            }
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "swapon {Path}")]
    private partial void LogSwapon(string path);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "swapoff {Path}")]
    private partial void LogSwapoff(string path);

    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "swapoff {Path}: ENOMEM, the file stays on")]
    private partial void LogSwapoffEnomem(string path);
}
