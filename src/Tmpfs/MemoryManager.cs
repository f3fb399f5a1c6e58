using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// The RAM budget that any number of mounts share: the page frames, and the counters
/// /proc/meminfo would show for them. Dispose it after every mount is unmounted.
/// </summary>
public sealed class MemoryManager : IDisposable
{
    private readonly Lock mountsLock = new();
    private readonly List<FileSystem> mounts = [];
    private long shmemPages;

    /// <summary>Creates a budget of <paramref name="budgetBytes"/> (rounded down to pages).</summary>
    public MemoryManager(long budgetBytes, TimeProvider? timeProvider = null)
    {
        Frames = new PageFrames(budgetBytes);
        Time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The budget in bytes (MemTotal).</summary>
    public long TotalBytes => (long)Frames.TotalFrames * PageFrames.PageSize;

    /// <summary>Bytes not holding any page (MemFree).</summary>
    public long FreeBytes => (long)Frames.FreeFrames * PageFrames.PageSize;

    /// <summary>Bytes of file pages resident in memory across all mounts (Shmem).</summary>
    public long ShmemBytes => Volatile.Read(ref shmemPages) * PageFrames.PageSize;

    /// <summary>Native memory reserved from the operating system for frames so far.</summary>
    public long ReservedBytes => Frames.ReservedBytes;

    /// <summary>Live mounts.</summary>
    public IReadOnlyList<FileSystem> Mounts
    {
        get
        {
            lock (mountsLock)
            {
                return [.. mounts];
            }
        }
    }

    internal PageFrames Frames { get; }

    internal TimeProvider Time { get; }

    /// <summary>Parses a size with the kernel's memparse suffixes (k, m, g, t, p, e), e.g. "512M".</summary>
    public static long ParseSize(string text) => MountOptions.ParseSize(text);

    /// <summary>
    /// mount -t tmpfs -o OPTIONS: a new tmpfs sharing this budget. Options use the kernel
    /// syntax (size, nr_blocks, nr_inodes, mode, uid, gid, ...); a bad one is EINVAL.
    /// The root directory belongs to <paramref name="mounter"/> (root by default).
    /// </summary>
    public FileSystem Mount(string? options = null, Credentials? mounter = null)
    {
        var parsed = MountOptions.Parse(options, TotalBytes);
        var fs = new FileSystem(this, parsed, mounter ?? Credentials.Root);
        lock (mountsLock)
        {
            mounts.Add(fs);
        }

        return fs;
    }

    internal void Unregister(FileSystem fs)
    {
        lock (mountsLock)
        {
            mounts.Remove(fs);
        }
    }

    internal void ChargeShmem(long pages) => Interlocked.Add(ref shmemPages, pages);

    internal void UnchargeShmem(long pages) => Interlocked.Add(ref shmemPages, -pages);

    /// <summary>
    /// Releases the budget's memory. Mounts still mounted are shut down first: their
    /// inodes are evicted, and handles still open on them fail with EIO from then on.
    /// </summary>
    public void Dispose()
    {
        foreach (var fs in Mounts)
        {
            fs.Shutdown();
        }

        Frames.Dispose();
    }
}
