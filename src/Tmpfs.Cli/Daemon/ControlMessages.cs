using System.Text.Json.Serialization;

namespace Tmpfs.Cli.Daemon;

/// <summary>One request to the daemon: one line of JSON on the control socket.</summary>
internal sealed record ControlRequest
{
    /// <summary>mount, umount, remount, status, swapon, swapoff, ping.</summary>
    public required string Op { get; init; }

    public string? MountPoint { get; init; }

    public string? Source { get; init; }

    public string? Options { get; init; }

    public bool Lazy { get; init; }

    public string? Path { get; init; }

    public long Size { get; init; }

    public int Priority { get; init; } = -1;
}

/// <summary>The daemon's answer: one line of JSON.</summary>
internal sealed record ControlResponse
{
    public bool Ok { get; init; }

    public string? Error { get; init; }

    /// <summary>The errno name of the failure (EINVAL, EBUSY, ...), when there is one.</summary>
    public string? Errno { get; init; }

    public string? Message { get; init; }

    public DaemonStatus? Status { get; init; }
}

internal sealed record DaemonStatus
{
    public int Pid { get; init; }

    public long Budget { get; init; }

    public List<MountStatus> Mounts { get; init; } = [];

    public List<SwapStatus> Swaps { get; init; } = [];

    public Dictionary<string, long> MemInfo { get; init; } = [];
}

internal sealed record MountStatus
{
    public required string MountPoint { get; init; }

    public required string Source { get; init; }

    public required string Options { get; init; }

    public long SizeLimit { get; init; }

    public long UsedBytes { get; init; }

    public long ResidentBytes { get; init; }

    public long SwappedBytes { get; init; }

    public long InodeLimit { get; init; }

    public long UsedInodes { get; init; }

    public int OpenHandles { get; init; }
}

internal sealed record SwapStatus(string Path, long SizeBytes, long UsedBytes, int Priority);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class ControlJson : JsonSerializerContext;
