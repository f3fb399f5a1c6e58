namespace Tmpfs.Cli.Stress;

/// <summary>
/// What a stress run does: the seed's script (many loops of mount, write a file of random
/// size, umount) run in-process by <see cref="Workers"/> threads on one shared budget that
/// is far smaller than what they write together, so reclaim swaps all the time.
/// </summary>
public sealed record StressOptions
{
    /// <summary>Worker threads, each looping mount / write / verify / unmount (the seed ran 300 shells).</summary>
    public int Workers { get; init; } = 300;

    /// <summary>How long the workers loop before they are stopped and the checks run.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The RAM budget all mounts share (MemTotal).</summary>
    public long Budget { get; init; } = 256L << 20;

    /// <summary>The swap file that stays on for the whole run.</summary>
    public long SwapSize { get; init; } = 1L << 30;

    /// <summary>The second swap file, switched on and off beside the workers; 0 for none. Null: a quarter of <see cref="SwapSize"/>.</summary>
    public long? CyclingSwapSize { get; init; }

    /// <summary>Each loop writes a file of a random size from 0 to this many bytes.</summary>
    public long MaxFile { get; init; } = 100L << 20;

    /// <summary>The write and read size (dd's bs=1M).</summary>
    public int ChunkSize { get; init; } = 1 << 20;

    /// <summary>Seeds the file sizes and the data pattern, so a run can be repeated.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Where the swap files go (a directory of their own is made inside); null picks /tmp or /var/tmp, not a tmpfs.</summary>
    public string? SwapDirectory { get; init; }

    /// <summary>Each worker runs the consistency check of its mount before every Nth unmount; 0 never.</summary>
    public int CheckEvery { get; init; } = 8;

    /// <summary>One loop in this many unmounts lazily (umount -l) with the file still open, then closes it.</summary>
    public int LazyUnmountEvery { get; init; } = 8;

    /// <summary>How long a read that finds no memory (RAM and swap full) keeps retrying before the loop gives up (the kernel would OOM-kill).</summary>
    public TimeSpan ReadStallLimit { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for the workers to finish once stopped before calling them hung.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The cycling swap file's size in bytes.</summary>
    public long EffectiveCyclingSwapSize => CyclingSwapSize ?? SwapSize / 4;

    /// <summary>Throws <see cref="ArgumentException"/> for settings the run cannot use.</summary>
    public void Validate()
    {
        Require(Workers >= 1, "--workers must be at least 1");
        Require(Duration > TimeSpan.Zero, "--duration must be positive");
        Require(Budget >= 1L << 20, "--budget must be at least 1M");
        Require(SwapSize >= 1L << 20, "--swap-size must be at least 1M");
        Require(EffectiveCyclingSwapSize == 0 || EffectiveCyclingSwapSize >= 64L << 10, "the cycling swap file must be at least 64K (or 0 for none)");
        Require(MaxFile >= 0, "--max-file must not be negative");
        Require(ChunkSize >= 4096 && ChunkSize % 4096 == 0 && ChunkSize <= 64 << 20, "the chunk size must be a multiple of 4K up to 64M");
        Require(CheckEvery >= 0 && LazyUnmountEvery >= 0, "check and lazy-unmount intervals must not be negative");
    }

    private static void Require(bool ok, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message);
        }
    }
}
