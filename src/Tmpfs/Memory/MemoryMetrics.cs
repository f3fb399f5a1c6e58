using System.Diagnostics.Metrics;

namespace Tmpfs.Memory;

/// <summary>
/// The budget's counters published through System.Diagnostics.Metrics (meter "Tmpfs"),
/// so `dotnet-counters monitor --counters Tmpfs` shows them live.
/// </summary>
internal sealed class MemoryMetrics : IDisposable
{
    public const string MeterName = "Tmpfs";

    private readonly Meter meter;

    public MemoryMetrics(MemoryManager memory)
    {
        meter = new Meter(MeterName);
        meter.CreateObservableGauge("tmpfs.mem.total", () => memory.TotalBytes, "By", "MemTotal");
        meter.CreateObservableGauge("tmpfs.mem.free", () => memory.FreeBytes, "By", "MemFree");
        meter.CreateObservableGauge("tmpfs.mem.shmem", () => memory.ShmemBytes, "By", "Shmem: file pages resident");
        meter.CreateObservableGauge("tmpfs.swap.total", () => memory.MemInfo.SwapTotal, "By", "SwapTotal");
        meter.CreateObservableGauge("tmpfs.swap.free", () => memory.MemInfo.SwapFree, "By", "SwapFree");
        meter.CreateObservableGauge("tmpfs.swap.cached", () => memory.MemInfo.SwapCached, "By", "SwapCached");
        meter.CreateObservableCounter("tmpfs.vm.pswpin", () => Volatile.Read(ref memory.Stat.PswpIn), "{page}", "pages swapped in");
        meter.CreateObservableCounter("tmpfs.vm.pswpout", () => Volatile.Read(ref memory.Stat.PswpOut), "{page}", "pages swapped out");
        meter.CreateObservableCounter("tmpfs.vm.pgscan", () => Volatile.Read(ref memory.Stat.PgScan), "{page}", "pages scanned by reclaim");
        meter.CreateObservableCounter("tmpfs.vm.pgsteal", () => Volatile.Read(ref memory.Stat.PgSteal), "{page}", "pages reclaimed");
        meter.CreateObservableCounter("tmpfs.vm.allocstall", () => Volatile.Read(ref memory.Stat.AllocStall), "{stall}", "direct reclaims");
    }

    public void Dispose() => meter.Dispose();
}
