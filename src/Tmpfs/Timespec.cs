namespace Tmpfs;

/// <summary>A timestamp in seconds and nanoseconds since the Unix epoch, as struct timespec.</summary>
public readonly record struct Timespec(long Seconds, long Nanoseconds) : IComparable<Timespec>
{
    /// <summary>UTIME_NOW: set to the current time.</summary>
    public static Timespec Now { get; } = new(0, (1L << 30) - 1);

    /// <summary>UTIME_OMIT: leave unchanged.</summary>
    public static Timespec Omit { get; } = new(0, (1L << 30) - 2);

    public bool IsNow => Nanoseconds == (1L << 30) - 1;

    public bool IsOmit => Nanoseconds == (1L << 30) - 2;

    /// <summary>Nanoseconds since the epoch.</summary>
    public long TotalNanoseconds => (Seconds * 1_000_000_000L) + Nanoseconds;

    public static Timespec FromNanoseconds(long ns)
    {
        var s = Math.DivRem(ns, 1_000_000_000L, out var rem);
        if (rem < 0)
        {
            s--;
            rem += 1_000_000_000L;
        }

        return new Timespec(s, rem);
    }

    public static Timespec FromDateTimeOffset(DateTimeOffset t) =>
        FromNanoseconds((t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100);

    public DateTimeOffset ToDateTimeOffset() => DateTimeOffset.UnixEpoch.AddTicks(TotalNanoseconds / 100);

    public int CompareTo(Timespec other) => TotalNanoseconds.CompareTo(other.TotalNanoseconds);

    public static bool operator <(Timespec left, Timespec right) => left.CompareTo(right) < 0;

    public static bool operator >(Timespec left, Timespec right) => left.CompareTo(right) > 0;

    public static bool operator <=(Timespec left, Timespec right) => left.CompareTo(right) <= 0;

    public static bool operator >=(Timespec left, Timespec right) => left.CompareTo(right) >= 0;
}
