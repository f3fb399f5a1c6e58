using System.Collections.Immutable;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Running;

namespace Tmpfs.Benchmarks.Workloads;

/// <summary>
/// Runs all peers of one method back to back (method by method, not peer by peer), so that
/// the side-by-side figures are taken as close together in time as possible on a noisy machine.
/// </summary>
internal sealed class PeersTogetherOrderer() : DefaultOrderer(SummaryOrderPolicy.Declared, MethodOrderPolicy.Declared)
{
    public override IEnumerable<BenchmarkCase> GetExecutionOrder(
        ImmutableArray<BenchmarkCase> benchmarksCase,
        IEnumerable<BenchmarkLogicalGroupRule>? order = null) =>
        base.GetExecutionOrder(benchmarksCase, order)
            .Select((c, i) => (c, i))
            .GroupBy(x => x.c.Descriptor.WorkloadMethod.Name)
            .OrderBy(g => g.Min(x => x.i))
            .SelectMany(g => g.Select(x => x.c));
}

/// <summary>
/// One short job for every workload: one launch, one warm-up, five measured iterations, one
/// invocation per iteration (each invocation is a whole workload pass, 50 ms to seconds).
/// </summary>
/// <remarks>
/// Every peer's process runs with DOTNET_TC_CallCountingDelayMs=0, so that the runtime
/// promotes hot methods to optimized code as soon as they are called often enough, and the
/// few warm-ups reach the steady state the figures are about. With the default 100 ms
/// delay, re-armed whenever a new method is compiled, the engine's hot methods stayed
/// unoptimized for about 12 passes of 20 ms: SmallFiles.Read measured about 900 ns per file
/// in passes 2 to 12 and 505 ns from pass 13 on, where with the setting it ran 520 ns from
/// pass 2 (docs/benchmarks.md). The setting changes when code is optimized, not how.
/// </remarks>
internal sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default
            .WithLaunchCount(1)
            .WithWarmupCount(1)
            .WithIterationCount(5)
            .WithInvocationCount(1)
            .WithUnrollFactor(1)
            .WithEnvironmentVariables(new EnvironmentVariable("DOTNET_TC_CallCountingDelayMs", "0"))
            .WithId("short"));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max);
        AddColumnProvider(DefaultColumnProviders.Instance);
        WithOrderer(new PeersTogetherOrderer());
        WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
    }
}
