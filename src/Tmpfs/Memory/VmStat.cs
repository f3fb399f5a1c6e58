namespace Tmpfs.Memory;

/// <summary>Event counters of the memory layer, as /proc/vmstat names them.</summary>
internal sealed class VmStat
{
    public long PswpIn;
    public long PswpOut;
    public long PgScan;
    public long PgSteal;
    public long AllocStall;
    public long SwapWriteErrors;
    public long SwapReadErrors;
    public long InvariantViolations;

    public static void Add(ref long counter, long n = 1) => Interlocked.Add(ref counter, n);
}
