namespace Tmpfs.Fuse.Wire;

/// <summary>
/// Whether the machine has a CPU to spare, sampled at most every 10 ms from the running
/// count in /proc/loadavg ("1.00 0.50 0.20 3/245 1234": 3 runnable or running): the serving
/// threads poll for the next request only while runnable threads do not outnumber the CPUs.
/// Measured on the 2-vCPU machine (bench/fuse/run.sh, 4 s jobs): polling took 4 KiB random
/// reads from 15-17k/s to 46-47k/s when quiet, but cost a quarter of them (63k to 46k/s)
/// with four busy loops competing for the two CPUs.
/// </summary>
internal sealed unsafe class RunQueueSampler : IDisposable
{
    private static readonly long Interval = System.Diagnostics.Stopwatch.Frequency / 100;
    private readonly int fd = Native.Open("/proc/loadavg", 0 | Native.O_CLOEXEC);
    private readonly int cpus = Environment.ProcessorCount;
    private long next;
    private bool spare = true;

    /// <summary>True when the last sample saw no more runnable threads than CPUs (or could not sample).</summary>
    public bool CpuToSpare()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (now >= next && fd >= 0)
        {
            next = now + Interval;
            spare = Running() is var running && (running < 0 || running <= cpus);
        }

        return spare;
    }

    /// <summary>The fourth field's numerator, or -1.</summary>
    private int Running()
    {
        Span<byte> text = stackalloc byte[128];
        fixed (byte* p = text)
        {
            var n = (int)Native.PRead(fd, p, (nuint)text.Length, 0);
            if (n <= 0)
            {
                return -1;
            }

            text = text[..n];
        }

        // Skip three fields, then parse digits up to '/'.
        var field = 0;
        var i = 0;
        for (; i < text.Length && field < 3; i++)
        {
            if (text[i] == (byte)' ')
            {
                field++;
            }
        }

        var value = 0;
        var digits = 0;
        for (; i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9'; i++, digits++)
        {
            value = (value * 10) + (text[i] - '0');
        }

        return digits > 0 && i < text.Length && text[i] == (byte)'/' ? value : -1;
    }

    public void Dispose()
    {
        if (fd >= 0)
        {
            Native.Close(fd);
        }
    }
}
