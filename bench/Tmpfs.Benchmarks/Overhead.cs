using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tmpfs.Benchmarks.Stores;
using Tmpfs.Benchmarks.Workloads;

namespace Tmpfs.Benchmarks;

/// <summary>
/// Memory overhead mode (not BenchmarkDotNet). Each peer is measured in a fresh child process,
/// twice: (a) one 1 GiB file written in 1 MiB chunks, (b) 100,000 empty files in 100
/// directories. RAM = GC heap growth (GC.GetTotalMemory(true)) + native memory: the bytes our
/// engine's MemoryManager reserved (ReservedBytes), the ceiling's arena, and for the kernel's
/// tmpfs the growth of Shmem (data) and Slab (inodes, dentries) in /proc/meminfo. Zio and
/// MockFileSystem keep everything on the GC heap. The process working set (Environment.WorkingSet)
/// and its peak (VmHWM, reset through /proc/self/clear_refs) are shown as a cross-check.
/// </summary>
internal static class Overhead
{
    public const string ChildVerb = "overhead-child";

    private const long Stored = Data.GiB;
    private const int Files = 100_000;
    private const int Directories = 100;

    public static int Run(string[] args)
    {
        var peers = args.Length > 0 ? args.Select(Enum.Parse<Peer>).ToArray() : Enum.GetValues<Peer>();
        var results = new Dictionary<(Peer, string), Dictionary<string, double>>();
        foreach (var peer in peers)
        {
            foreach (var kind in new[] { "data", "files" })
            {
                Console.Error.WriteLine($"measuring {peer} {kind} ...");
                results[(peer, kind)] = RunInChild(peer, kind);
            }
        }

        var sb = new StringBuilder();
        sb.AppendLine($"Memory overhead, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        sb.AppendLine();
        sb.AppendLine("| Peer | RAM holding 1 GiB | overhead per GiB stored | peak (sampled) | peak over 1 GiB | GC committed Δ | working set Δ | peak working set Δ | bytes per empty file | working set Δ per file |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var peer in peers)
        {
            var d = results[(peer, "data")];
            var f = results[(peer, "files")];
            if (d.Count == 0 || f.Count == 0)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {peer} | failed | | | | | | | | |");
                continue;
            }

            var ram = d["managed"] + d["native"];
            var overhead = Math.Abs(ram - Stored) < 512 ? 0 : (ram - Stored) / Stored;
            var peak = d["peak"];
            var perFile = (f["managed"] + f["native"]) / Files;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {peer} | {Mib(ram)} | {overhead:P2} ({Mib(ram - Stored)}) | {Mib(peak)} | {(peak - Stored) / Stored:P1} | {Mib(d["committed"])} | {Mib(d["rss"])} | {Mib(d["peakRss"])} | {perFile:0} B | {f["rss"] / Files:0} B |");
        }

        sb.AppendLine();
        sb.AppendLine("RAM = live GC heap growth (GC.GetTotalMemory(true)) + native memory (engine: MemoryManager.ReservedBytes; ceiling: its arena; kernel tmpfs: /proc/meminfo Shmem + Slab growth, system-wide).");
        sb.AppendLine("Peak (sampled) = the largest GC.GetTotalMemory(false) + native seen after each 1 MiB write. Working set figures are the process's own (the kernel's tmpfs pages are not in it).");
        Console.WriteLine(sb.ToString());
        return 0;
    }

    private static string Mib(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / Data.MiB:0.0} MiB");

    private static Dictionary<string, double> RunInChild(Peer peer, string kind)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(Overhead).Assembly.Location);
        }

        psi.ArgumentList.Add(ChildVerb);
        psi.ArgumentList.Add(peer.ToString());
        psi.ArgumentList.Add(kind);
        using var child = Process.Start(psi)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        var result = new Dictionary<string, double>();
        if (child.ExitCode != 0 || line == null)
        {
            Console.Error.WriteLine($"{peer} {kind} failed (exit {child.ExitCode}):\n{output}");
            return result;
        }

        foreach (var pair in line["RESULT ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            result[pair[..eq]] = double.Parse(pair[(eq + 1)..], CultureInfo.InvariantCulture);
        }

        return result;
    }

    public static int RunChild(string[] args)
    {
        var peer = Enum.Parse<Peer>(args[0]);
        var result = args[1] == "data" ? MeasureData(peer) : MeasureFiles(peer);
        Console.WriteLine("RESULT " + string.Join(' ', result.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value:R}"))));
        return 0;
    }

    private static Dictionary<string, double> MeasureData(Peer peer)
    {
        var chunk = Data.Random((int)Data.MiB);

        // Warm up: JIT every path we are about to use, on a store we then throw away.
        using (var warm = StoreFactory.Create(peer, new StoreShape(16 * Data.MiB, 1, 16, TightBudget: true)))
        {
            WriteFile(warm, chunk, 16 * Data.MiB, null);
            warm.Delete("/f");
        }

        var before = Snapshot.Take(peer, null);
        Snapshot.ResetPeakRss();
        using var store = StoreFactory.Create(peer, new StoreShape(Stored, 1, 16, TightBudget: true));
        double peak = 0;
        WriteFile(store, chunk, Stored, () => peak = Math.Max(peak, GC.GetTotalMemory(false) - before.Managed + Snapshot.Native(peer, store, before)));
        var after = Snapshot.Take(peer, store);
        peak = Math.Max(peak, after.Managed - before.Managed + after.NativeBytes - before.NativeBytes);
        GC.KeepAlive(store);
        return new()
        {
            ["managed"] = after.Managed - before.Managed,
            ["native"] = after.NativeBytes - before.NativeBytes,
            ["peak"] = peak,
            ["rss"] = after.WorkingSet - before.WorkingSet,
            ["committed"] = after.Committed - before.Committed,
            ["peakRss"] = Snapshot.PeakRss() - before.WorkingSet,
        };
    }

    private static Dictionary<string, double> MeasureFiles(Peer peer)
    {
        var paths = Data.Paths(Files, Directories, out var dirs);

        using (var warm = StoreFactory.Create(peer, new StoreShape(0, 0, 0, TightBudget: true)))
        {
            warm.CreateDirectory(dirs[0]);
            for (var i = 0; i < 1000; i++)
            {
                warm.CreateEmpty($"{dirs[0]}/w{i}");
                warm.GetLength($"{dirs[0]}/w{i}");
            }
        }

        using var store = StoreFactory.Create(peer, new StoreShape(0, 0, 0, TightBudget: true));
        foreach (var dir in dirs)
        {
            store.CreateDirectory(dir);
        }

        var before = Snapshot.Take(peer, store);
        foreach (var path in paths)
        {
            store.CreateEmpty(path);
        }

        var after = Snapshot.Take(peer, store);
        GC.KeepAlive(store);
        return new()
        {
            ["managed"] = after.Managed - before.Managed,
            ["native"] = after.NativeBytes - before.NativeBytes,
            ["rss"] = after.WorkingSet - before.WorkingSet,
        };
    }

    private static void WriteFile(IStore store, byte[] chunk, long size, Action? sample)
    {
        using var file = store.Create("/f");
        for (long offset = 0; offset < size; offset += chunk.Length)
        {
            file.Write(chunk, offset);
            sample?.Invoke();
        }
    }

    private readonly record struct Snapshot(long Managed, long NativeBytes, long WorkingSet, long Committed)
    {
        public static Snapshot Take(Peer peer, IStore? store)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            var managed = GC.GetTotalMemory(forceFullCollection: true);
            return new Snapshot(managed, Native(peer, store, default), Environment.WorkingSet, GC.GetGCMemoryInfo().TotalCommittedBytes);
        }

        /// <summary>Native bytes now (relative to <paramref name="baseline"/> only for the sampled peak).</summary>
        public static long Native(Peer peer, IStore? store, Snapshot baseline)
        {
            if (peer == Peer.KernelTmpfs)
            {
                var info = MemInfo();
                return info.GetValueOrDefault("Shmem") + info.GetValueOrDefault("Slab") - baseline.NativeBytes;
            }

            return (store as INativeMemory)?.NativeBytes ?? 0;
        }

        public static Dictionary<string, long> MemInfo()
        {
            var result = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var kb))
                {
                    result[parts[0].TrimEnd(':')] = kb * 1024;
                }
            }

            return result;
        }

        /// <summary>Resets VmHWM to the current RSS (Linux 4.0+: echo 5 &gt; /proc/self/clear_refs).</summary>
        public static void ResetPeakRss()
        {
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"cannot reset VmHWM: {e.Message}");
            }
        }

        public static long PeakRss()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }
    }
}
