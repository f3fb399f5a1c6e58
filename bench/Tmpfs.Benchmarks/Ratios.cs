using System.Globalization;
using System.Text;
using BenchmarkDotNet.Reports;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks;

/// <summary>
/// After a BenchmarkDotNet run: one row per workload step with every peer's median, our
/// engine's speed as a share of the ceiling, how many times faster it is than the best other
/// in-memory store and than the kernel's tmpfs, and whether it meets its target.
/// </summary>
internal static class Ratios
{
    private static readonly Peer[] Order = [Peer.Tmpfs, Peer.Zio, Peer.Mock, Peer.KernelTmpfs, Peer.Ceiling];

    public static string Render(IEnumerable<BenchmarkReport> reports)
    {
        var rows = new SortedDictionary<string, Dictionary<Peer, double>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var report in reports)
        {
            var descriptor = report.BenchmarkCase.Descriptor;
            var key = $"{descriptor.Type.Name}.{descriptor.WorkloadMethod.Name}";
            if (report.BenchmarkCase.Parameters["Peer"] is not Peer peer || report.ResultStatistics is not { } stats)
            {
                continue;
            }

            if (!rows.TryGetValue(key, out var row))
            {
                rows[key] = row = [];
                order.Add(key);
            }

            row[peer] = stats.Median; // ns per operation
        }

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| Workload | {string.Join(" | ", Order)} | Tmpfs / ceiling | Tmpfs vs best in-memory peer | Tmpfs vs kernel tmpfs | Target | Met |");
        sb.AppendLine($"|---|{string.Concat(Enumerable.Repeat("---:|", Order.Length))}---:|---:|---:|---|---|");
        foreach (var key in order)
        {
            var row = rows[key];
            var bytes = BytesPerOp(key);
            var cells = Order.Select(p => row.TryGetValue(p, out var ns) ? Format(ns, bytes) : "n/a");
            sb.Append(CultureInfo.InvariantCulture, $"| {key} | {string.Join(" | ", cells)} | ");
            if (row.TryGetValue(Peer.Tmpfs, out var ours))
            {
                var ceiling = row.GetValueOrDefault(Peer.Ceiling, double.NaN);
                var bestPeer = Math.Min(row.GetValueOrDefault(Peer.Zio, double.PositiveInfinity), row.GetValueOrDefault(Peer.Mock, double.PositiveInfinity));
                var kernel = row.GetValueOrDefault(Peer.KernelTmpfs, double.NaN);
                var ofCeiling = ceiling / ours;
                var vsPeer = bestPeer / ours;
                var vsKernel = kernel / ours;
                string target;
                bool met;
                if (key.StartsWith("Sequential1M.", StringComparison.Ordinal))
                {
                    target = ">=70% of ceiling";
                    met = ofCeiling >= 0.70;
                }
                else
                {
                    // Target speed: 3x the best other in-memory store, or 80% of the ceiling where that is lower.
                    var needed = Math.Min(3.0 / bestPeer, 0.8 / ceiling); // in ops per ns
                    target = 3.0 / bestPeer <= 0.8 / ceiling ? ">=3x best peer" : ">=80% of ceiling";
                    met = 1.0 / ours >= needed * 0.999;
                }

                met &= vsKernel > 1.0;
                sb.AppendLine(CultureInfo.InvariantCulture, $"{ofCeiling:P0} | {vsPeer:0.0#}x | {vsKernel:0.0#}x | {target}, ahead of kernel | {(met ? "yes" : "NO")} |");
            }
            else
            {
                sb.AppendLine("not measured | | | | |");
            }
        }

        return sb.ToString();
    }

    /// <summary>Bytes one operation moves, for throughput; 0 for metadata-only steps.</summary>
    private static long BytesPerOp(string key) => key switch
    {
        _ when key.StartsWith("Sequential", StringComparison.Ordinal) => 1L << 30,
        _ when key.StartsWith("RandomIo.", StringComparison.Ordinal) => 4096,
        _ when key.StartsWith("SmallFiles.", StringComparison.Ordinal) => 4096,
        _ => 0,
    };

    public static string Format(double ns, long bytes)
    {
        var time = ns switch
        {
            >= 1e9 => $"{ns / 1e9:0.00} s",
            >= 1e6 => $"{ns / 1e6:0.0} ms",
            >= 1e3 => $"{ns / 1e3:0.00} µs",
            _ => $"{ns:0} ns",
        };
        if (bytes == 0)
        {
            return time;
        }

        var gibPerSecond = bytes / (ns / 1e9) / (1L << 30);
        return string.Create(CultureInfo.InvariantCulture, $"{time} ({gibPerSecond:0.00} GiB/s)");
    }
}
