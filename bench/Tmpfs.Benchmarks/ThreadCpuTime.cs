using System.Runtime.InteropServices;

namespace Tmpfs.Benchmarks;

/// <summary>The calling thread's CPU time (user + system), CLOCK_THREAD_CPUTIME_ID; 0 where unavailable.</summary>
internal static unsafe partial class ThreadCpuTime
{
    private const int ClockThreadCpuTimeId = 3;

    public static double Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        var ts = stackalloc long[2];
        return clock_gettime(ClockThreadCpuTimeId, ts) == 0 ? ts[0] + (ts[1] / 1e9) : 0;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clock, long* timespec);
}
