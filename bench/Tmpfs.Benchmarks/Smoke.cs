using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks;

/// <summary>
/// A quick check without BenchmarkDotNet: each benchmark method run twice per peer in this
/// process (the second run timed), with the same setup and cleanup attributes honoured.
/// Arguments: optional substrings of "Class.Method" and peer names to select, and
/// "--passes N" to run each method N times (the median of all but the first reported),
/// e.g. for a steadier figure or under a profiler. Besides the elapsed time it prints the
/// process's CPU time per operation (all threads, so GC and kswapd included), which a loaded
/// machine disturbs less than the wall clock.
/// </summary>
internal static class Smoke
{
    public static int Run(string[] args)
    {
        var passes = 2;
        var filters = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--passes" && i + 1 < args.Length)
            {
                passes = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else
            {
                filters.Add(args[i]);
            }
        }

        var peers = Enum.GetValues<Peer>().Where(p => !filters.Any(f => Enum.TryParse<Peer>(f, out _)) || filters.Contains(p.ToString())).ToList();
        var names = filters.Where(f => !Enum.TryParse<Peer>(f, out _)).ToList();
        var types = typeof(Smoke).Assembly.GetTypes().Where(t => !t.IsAbstract && t.IsPublic && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() != null));
        foreach (var type in types)
        {
            foreach (var method in type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() != null))
            {
                var key = $"{type.Name}.{method.Name}";
                if (names.Count > 0 && !names.Any(n => key.Contains(n, StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }

                foreach (var peer in peers)
                {
                    Console.Write($"{key,-30} {peer,-12} ");
                    try
                    {
                        Console.WriteLine(RunOne(type, method, peer, passes));
                    }
                    catch (Exception e) when (e is TargetInvocationException or NotSupportedException)
                    {
                        Console.WriteLine($"FAILED: {(e.InnerException ?? e).GetType().Name}: {(e.InnerException ?? e).Message}");
                    }
                }
            }
        }

        return 0;
    }

    private static string RunOne(Type type, MethodInfo method, Peer peer, int passes)
    {
        var instance = Activator.CreateInstance(type)!;
        type.GetProperty("Peer")!.SetValue(instance, peer);
        var ops = method.GetCustomAttribute<BenchmarkAttribute>()!.OperationsPerInvoke;
        Invoke<GlobalSetupAttribute>(instance, method, a => a.Targets);
        try
        {
            // The first pass warms up; the figure is the median of the others (the last pass when
            // there are two), which is steadier than one pass on a shared machine.
            var timed = new List<double>();
            var cpu = new List<double>();
            long allocated = 0;
            int gen0 = 0, gen1 = 0, gen2 = 0;
            for (var pass = 0; pass < passes; pass++)
            {
                Invoke<IterationSetupAttribute>(instance, method, a => a.Targets);

                // As BenchmarkDotNet's default job (GcForce): a full collection before each
                // invocation, so one pass does not pay for the garbage of the one before.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                var cpuBefore = ThreadCpuTime.Now();
                var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                var (c0, c1, c2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
                var sw = Stopwatch.StartNew();
                method.Invoke(instance, null);
                var elapsed = sw.Elapsed.TotalSeconds;
                var cpuUsed = ThreadCpuTime.Now() - cpuBefore;
                (allocated, gen0, gen1, gen2) = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore,
                    GC.CollectionCount(0) - c0, GC.CollectionCount(1) - c1, GC.CollectionCount(2) - c2);
                Invoke<IterationCleanupAttribute>(instance, method, a => a.Targets);
                if (pass > 0 || passes == 1)
                {
                    timed.Add(elapsed);
                    cpu.Add(cpuUsed);
                }
            }

            // Thread CPU time beside wall time: on a loaded machine the wall clock counts the
            // time this thread waited for a core; the CPU time of a single-threaded workload does not.
            timed.Sort();
            cpu.Sort();
            var seconds = timed[timed.Count / 2];
            var cpuSeconds = cpu[cpu.Count / 2];
            return string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e3,10:0.0} ms/invoke  {seconds * 1e9 / ops,12:0} ns/op  {cpuSeconds * 1e9 / ops,8:0} thread-cpu-ns/op  (medians of {timed.Count}; last pass: {allocated / ops,5} B/op, GCs {gen0}/{gen1}/{gen2})");
        }
        finally
        {
            Invoke<GlobalCleanupAttribute>(instance, method, a => a.Targets);
        }
    }

    private static void Invoke<TAttribute>(object instance, MethodInfo benchmark, Func<TAttribute, string[]> targets)
        where TAttribute : Attribute
    {
        foreach (var m in instance.GetType().GetMethods())
        {
            var attribute = m.GetCustomAttribute<TAttribute>();
            if (attribute != null && (targets(attribute).Length == 0 || targets(attribute).Contains(benchmark.Name)))
            {
                m.Invoke(instance, null);
            }
        }
    }
}
