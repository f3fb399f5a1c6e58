using System.Collections.Concurrent;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// The run's tallies, bumped by every worker with interlocked adds, and the first problems
/// seen in full text (later ones are only counted).
/// </summary>
internal sealed class StressCounters
{
    public const int MaxProblemTexts = 40;

    public long Loops;
    public long LoopsCutShort;
    public long Mounts;
    public long Unmounts;
    public long LazyUnmounts;
    public long BytesWritten;
    public long BytesVerified;
    public long FilesVerified;
    public long EnospcWrites;
    public long EnospcWritesWithSwapFree;
    public long ReadStalls;
    public long ReadsAbandoned;
    public long DataMismatches;
    public long ReadErrors;
    public long UnmountViolations;
    public long FsckRuns;
    public long FsckProblems;
    public long UnexpectedErrors;
    public long SwaponOk;
    public long SwaponFailed;
    public long SwapoffOk;
    public long SwapoffEnomem;
    public long SwapoffFailed;

    private readonly ConcurrentQueue<string> problems = new();
    private int problemTexts;

    /// <summary>The first problems, in the order they were seen.</summary>
    public IReadOnlyList<string> Problems => [.. problems];

    public static void Add(ref long counter, long n = 1) => Interlocked.Add(ref counter, n);

    public static long Read(ref long counter) => Volatile.Read(ref counter);

    /// <summary>Records a problem's text (the first <see cref="MaxProblemTexts"/> of them).</summary>
    public void Note(string text)
    {
        if (Interlocked.Increment(ref problemTexts) <= MaxProblemTexts)
        {
            problems.Enqueue(text);
        }
    }
}
