using System.Globalization;
using System.Text;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// The end of a stress run: what was done, what went wrong, and what was left behind
/// once everything was unmounted and swapped off. <see cref="Passed"/> needs no
/// violation, no leak and no unexpected error; ENOSPC and swapoff's ENOMEM are expected.
/// </summary>
public sealed record StressReport
{
    public required StressOptions Options { get; init; }

    public required string SwapDirectory { get; init; }

    public TimeSpan Elapsed { get; init; }

    public bool Interrupted { get; init; }

    public long Loops { get; init; }

    public long LoopsCutShort { get; init; }

    public long Mounts { get; init; }

    public long Unmounts { get; init; }

    public long LazyUnmounts { get; init; }

    public long BytesWritten { get; init; }

    public long BytesVerified { get; init; }

    public long FilesVerified { get; init; }

    /// <summary>Writes cut short by ENOSPC (RAM and swap full): expected; what they wrote before still verified.</summary>
    public long EnospcWrites { get; init; }

    /// <summary>Of those, ones that came while swap still had a tenth or more free (reclaim could not keep up).</summary>
    public long EnospcWritesWithSwapFree { get; init; }

    /// <summary>Reads that found no memory for a swap-in at first and retried.</summary>
    public long ReadStalls { get; init; }

    /// <summary>Loops that gave up verifying because memory stayed full (the kernel would OOM-kill).</summary>
    public long ReadsAbandoned { get; init; }

    public long DataMismatches { get; init; }

    /// <summary>EIO or a short read from a file whose data should all be there.</summary>
    public long ReadErrors { get; init; }

    /// <summary>Unmounts that threw: "busy inodes after unmount" and the other teardown checks.</summary>
    public long UnmountViolations { get; init; }

    public long FsckRuns { get; init; }

    public long FsckProblems { get; init; }

    /// <summary>MemInfo.InvariantViolations at the end.</summary>
    public long EngineInvariantViolations { get; init; }

    public int HungWorkers { get; init; }

    public IReadOnlyList<string> FinalConsistencyProblems { get; init; } = [];

    public IReadOnlyList<string> Leaks { get; init; } = [];

    public long UnexpectedErrors { get; init; }

    public long SwaponOk { get; init; }

    public long SwaponFailed { get; init; }

    public long SwapoffOk { get; init; }

    public long SwapoffEnomem { get; init; }

    public long SwapoffFailed { get; init; }

    /// <summary>The counters as they stood after the workers stopped, before the final swapoff.</summary>
    public MemInfo Memory { get; init; }

    /// <summary>The first problems seen, in full.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>Everything that must be zero for a run to pass.</summary>
    public long Violations =>
        DataMismatches + ReadErrors + UnmountViolations + FsckProblems + EngineInvariantViolations + HungWorkers + FinalConsistencyProblems.Count;

    public bool Passed => Violations == 0 && Leaks.Count == 0 && UnexpectedErrors == 0 && SwapoffFailed == 0 && SwaponFailed == 0;

    /// <summary>The report as the command prints it.</summary>
    public override string ToString()
    {
        var o = Options;
        var m = Memory;
        var s = new StringBuilder();
        void Line(string label, string text) => s.Append(CultureInfo.InvariantCulture, $"  {label,-18}{text}\n");
        var cycling = o.EffectiveCyclingSwapSize > 0 ? $" + {Units.Bytes(o.EffectiveCyclingSwapSize)} cycling" : "";
        s.Append(CultureInfo.InvariantCulture, $"tmpfs stress: {o.Workers} workers, {Elapsed.TotalSeconds:0.0} s of {o.Duration.TotalSeconds:0} s{(Interrupted ? " (interrupted)" : "")}, ");
        s.Append(CultureInfo.InvariantCulture, $"budget {Units.Bytes(o.Budget)}, swap {Units.Bytes(o.SwapSize)}{cycling} in {SwapDirectory}, files up to {Units.Bytes(o.MaxFile)}, seed {o.Seed}\n");
        Line("loops", $"{Units.Count(Loops)} completed, {Units.Count(LoopsCutShort)} cut short (by the stop, or given up under full memory)");
        Line("mounts", $"{Units.Count(Mounts)} mounted, {Units.Count(Unmounts)} unmounted ({Units.Count(LazyUnmounts)} lazily with the file open)");
        Line("data", $"{Units.Bytes(BytesWritten)} written, {Units.Bytes(BytesVerified)} read back and verified ({Units.Count(FilesVerified)} files)");
        Line("ENOSPC", $"{Units.Count(EnospcWrites)} writes stopped by full RAM and swap ({Units.Count(EnospcWritesWithSwapFree)} with swap >= 10% free); " +
            $"{Units.Count(ReadStalls)} reads waited for memory, {Units.Count(ReadsAbandoned)} loops gave up waiting");
        Line("swap", $"out {Units.Count(m.PswpOut)} pages ({Units.Bytes(m.PswpOut * 4096.0)}), in {Units.Count(m.PswpIn)} pages ({Units.Bytes(m.PswpIn * 4096.0)}), " +
            $"write errors {m.SwapWriteErrors}, read errors {m.SwapReadErrors}");
        Line("swapon/swapoff", $"{SwaponOk} swapon ({SwaponFailed} failed), {SwapoffOk} swapoff ok, {SwapoffEnomem} swapoff ENOMEM (expected), {SwapoffFailed} failed otherwise");
        Line("reclaim", $"pgscan {Units.Count(m.PgScan)}, pgsteal {Units.Count(m.PgSteal)}, allocstall {Units.Count(m.AllocStall)}");
        Line("checks", $"{FsckRuns} mount checks ({FsckProblems} problems), final consistency check: {FinalConsistencyProblems.Count} problems");
        Line("violations", $"{Violations} (data mismatches {DataMismatches}, read errors {ReadErrors}, unmount {UnmountViolations}, " +
            $"fsck {FsckProblems + FinalConsistencyProblems.Count}, engine invariant counter {EngineInvariantViolations}, hung workers {HungWorkers})");
        Line("leaks", Leaks.Count == 0 ? "none (MemFree == MemTotal, nothing in the swap cache, every swap slot free, no mount left)" : string.Join("; ", Leaks));
        Line("unexpected errors", Units.Count(UnexpectedErrors));
        foreach (var p in FinalConsistencyProblems.Take(20))
        {
            s.Append("  ! ").Append(p).Append('\n');
        }

        foreach (var p in Problems)
        {
            s.Append("  ! ").Append(p).Append('\n');
        }

        Line("result", Passed ? "PASS" : "FAIL");
        return s.ToString();
    }
}
