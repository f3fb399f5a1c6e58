using System.Globalization;

namespace Tmpfs.Cli.Stress;

/// <summary>Where a run stands: what the progress line shows once a second.</summary>
public sealed record StressSnapshot
{
    public TimeSpan Elapsed { get; init; }

    public TimeSpan Duration { get; init; }

    public long Loops { get; init; }

    public long Mounts { get; init; }

    public long BytesWritten { get; init; }

    public long BytesVerified { get; init; }

    public long Enospc { get; init; }

    public long SwapoffOk { get; init; }

    public long SwapoffEnomem { get; init; }

    public long Violations { get; init; }

    public long Errors { get; init; }

    public MemInfo Memory { get; init; }

    /// <summary>One line: elapsed, loops, data, swap traffic, ENOSPC, swapoff, violations and errors.</summary>
    public string ToLine() => string.Create(
        CultureInfo.InvariantCulture,
        $"[{Elapsed.TotalSeconds,4:0}s/{Duration.TotalSeconds:0}s] loops {Loops} mounts {Mounts} | written {Units.Bytes(BytesWritten)} verified {Units.Bytes(BytesVerified)} | " +
        $"swap out {Units.Bytes(Memory.PswpOut * 4096.0)} in {Units.Bytes(Memory.PswpIn * 4096.0)} used {Units.Bytes(Memory.SwapTotal - Memory.SwapFree)} | " +
        $"free {Units.Bytes(Memory.MemFree)} | ENOSPC {Enospc} | swapoff ok {SwapoffOk} ENOMEM {SwapoffEnomem} | violations {Violations} errors {Errors}");
}
