using Microsoft.Coyote;
using Microsoft.Coyote.Logging;
using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;
using ControlledTask = Microsoft.Coyote.Rewriting.Types.Threading.Tasks.Task;

namespace Tmpfs.Tests.Systematic;

/// <summary>
/// Runs a scenario under Coyote's systematic testing engine. The scenario's concurrent
/// operations are Coyote-controlled tasks (created through the same entry points the
/// Coyote rewriter would substitute for Task.Run and Task.WaitAll, so no IL rewriting
/// is needed); each installs <see cref="CoyoteInterleaver"/> as the engine's
/// <see cref="Interleaving"/> scheduler, so every scheduling point of the engine is a
/// Coyote scheduling decision. See docs/concurrency-testing.md.
/// </summary>
internal static class Explorer
{
    /// <summary>Explores up to <paramref name="iterations"/> schedules; stops at the first bug.</summary>
    public static Outcome Explore(Action scenario, int iterations, uint seed = 20110511)
    {
        var configuration = Configuration.Create()
            .WithTestingIterations((uint)iterations)
            .WithRandomGeneratorSeed(seed)
            .WithPrioritizationStrategy(isFair: false, priorityChangeBound: 3)
            .WithMaxSchedulingSteps(20000)
            .WithFailureOnMaxStepsBoundEnabled(true)
            .WithPartiallyControlledConcurrencyAllowed(false)
            .WithTelemetryEnabled(false)
            .WithConsoleLoggingEnabled(false)
            .WithVerbosityEnabled(VerbosityLevel.None);
        using var engine = TestingEngine.Create(configuration, scenario);
        engine.Run();
        var report = engine.TestReport;
        return new Outcome(
            report.NumOfFoundBugs,
            report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths,
            report.BugReports.FirstOrDefault(),
            report.InternalErrors.FirstOrDefault());
    }

    /// <summary>Starts a controlled operation whose engine calls are interleaved by Coyote.</summary>
    public static Task Spawn(Action body) => ControlledTask.Run(() =>
    {
        Interleaving.Current = CoyoteInterleaver.Instance;
        try
        {
            body();
        }
        catch (Exception e) when (e.GetType().Namespace?.StartsWith("Microsoft.Coyote", StringComparison.Ordinal) != true)
        {
            // Report it at once, with the schedule that led here: left in the task, it would
            // surface only at the join, or as a deadlock of the operation waiting for a lock
            // the failed one still holds.
            Specification.Assert(false, $"operation failed: {e}");
        }
        finally
        {
            Interleaving.Current = null;
        }
    });

    /// <summary>Waits for controlled operations (a Coyote scheduling point; rethrows their failures).</summary>
    public static void Join(params Task[] tasks) => ControlledTask.WaitAll(tasks);

    public readonly record struct Outcome(int Bugs, int Iterations, string? BugReport, string? InternalError)
    {
        public override string ToString() =>
            Bugs == 0 ? $"no bug in {Iterations} schedule(s)" + (InternalError is null ? "" : $" (internal error: {InternalError})")
                      : $"bug found in schedule #{Iterations}: {BugReport}";
    }
}

/// <summary>The engine's scheduling points mapped onto Coyote's.</summary>
internal sealed class CoyoteInterleaver : IInterleaver
{
    public static readonly CoyoteInterleaver Instance = new();

    public void Point() => SchedulingPoint.Interleave();

    public void Spin() => SchedulingPoint.Yield();

    public void WaitUntil(Func<bool> ready) => Operation.PauseUntil(ready);
}
