namespace Tmpfs.Shmem;

/// <summary>
/// The time stamp source for inode times, like the kernel's ktime_get_coarse_real_ts64:
/// with the system clock, the wall time is read at most once per tick of
/// <see cref="Environment.TickCount64"/> (a coarse monotonic millisecond counter, much
/// cheaper than a precise wall clock read plus conversion) and reused within that tick.
/// Any other <see cref="TimeProvider"/> (tests' manual clocks) is read exactly, every time.
/// </summary>
internal sealed class CoarseClock
{
    private readonly TimeProvider time;
    private readonly bool coarse;
    private Stamp last = new(long.MinValue, 0);

    public CoarseClock(TimeProvider time)
    {
        this.time = time;
        coarse = ReferenceEquals(time, TimeProvider.System);
    }

    /// <summary>Nanoseconds since the Unix epoch, coarse (millisecond) with the system clock.</summary>
    public long NowNs()
    {
        if (!coarse)
        {
            return Read();
        }

        var tick = Environment.TickCount64;
        var stamp = Volatile.Read(ref last);
        if (stamp.Tick == tick)
        {
            return stamp.Ns;
        }

        var ns = Read();
        Volatile.Write(ref last, new Stamp(tick, ns));
        return ns;
    }

    private long Read() => Timespec.FromDateTimeOffset(time.GetUtcNow()).TotalNanoseconds;

    private sealed record Stamp(long Tick, long Ns);
}
