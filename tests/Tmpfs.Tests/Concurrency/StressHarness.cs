using System.Text;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// Runs worker threads under a watchdog: each worker reports what it is doing, so a
/// deadlock fails the test with the list of stuck threads and their current operation
/// instead of hanging the run. The watchdog is generous; it never judges speed.
/// </summary>
internal sealed class StressHarness
{
    private readonly string?[] doing;
    private readonly long[] steps;
    private readonly List<string> failures = [];

    public StressHarness(int threads)
    {
        Threads = threads;
        doing = new string?[threads];
        steps = new long[threads];
    }

    public int Threads { get; }

    public static TimeSpan Watchdog { get; } = TimeSpan.FromSeconds(120);

    /// <summary>Records what worker <paramref name="id"/> is about to do (shown if it gets stuck).</summary>
    public void Doing(int id, string what)
    {
        Volatile.Write(ref doing[id], what);
        Interlocked.Increment(ref steps[id]);
    }

    /// <summary>Records a failure; the run fails at the end with all of them.</summary>
    public void Fail(int id, string message)
    {
        lock (failures)
        {
            if (failures.Count < 50)
            {
                failures.Add($"worker {id} ({Volatile.Read(ref doing[id])}): {message}");
            }
        }
    }

    public int FailureCount
    {
        get
        {
            lock (failures)
            {
                return failures.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> on every worker; throws on a failure, an unexpected exception or a deadlock.</summary>
    public void Run(Action<int> body)
    {
        var threads = new Thread[Threads];
        var done = new bool[Threads];
        using var start = new ManualResetEventSlim();
        for (var i = 0; i < Threads; i++)
        {
            var id = i;
            threads[i] = new Thread(() =>
            {
                start.Wait();
                try
                {
                    body(id);
                }
                catch (Exception e)
                {
                    Fail(id, $"unexpected {e.GetType().Name}: {e}");
                }
                finally
                {
                    Volatile.Write(ref done[id], true);
                    Volatile.Write(ref doing[id], "finished");
                }
            })
            {
                IsBackground = true, // a deadlocked worker must not keep the test host alive
                Name = $"stress-{id}",
            };
            threads[i].Start();
        }

        start.Set();
        var deadline = DateTime.UtcNow + Watchdog;
        foreach (var t in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (left < TimeSpan.Zero || !t.Join(left))
            {
                break;
            }
        }

        var stuck = new StringBuilder();
        for (var i = 0; i < Threads; i++)
        {
            if (!Volatile.Read(ref done[i]))
            {
                stuck.AppendLine($"  worker {i}: stuck in '{Volatile.Read(ref doing[i])}' after {Volatile.Read(ref steps[i])} steps");
            }
        }

        if (stuck.Length > 0)
        {
            Assert.Fail($"watchdog: workers did not finish within {Watchdog.TotalSeconds} s (deadlock?)\n{stuck}");
        }

        ThrowIfFailed();
    }

    public void ThrowIfFailed()
    {
        lock (failures)
        {
            if (failures.Count > 0)
            {
                Assert.Fail($"{failures.Count} failure(s):\n" + string.Join("\n", failures));
            }
        }
    }
}
