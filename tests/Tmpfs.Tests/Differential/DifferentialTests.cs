using CsCheck;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// The differential test: random operation sequences run on the kernel's tmpfs (the oracle)
/// and on the engine; every result must be the same. A failure is shrunk (CsCheck, then delta
/// debugging over the operations) and reported as the minimal sequence with each result and
/// the first difference. Reproduce with the printed seed (CsCheck_Seed environment variable).
/// </summary>
public sealed class DifferentialTests
{
    public DifferentialTests() => KernelTarget.CleanStaleMounts();

    private static Mismatch? Check(Scenario s, out List<string> kernel, out List<string> engine)
    {
        kernel = Harness.RunKernel(s);
        using var target = new EngineTarget(s.Options);
        engine = Harness.RunOnOwnThread(target, s);
        return Harness.Compare(kernel, engine);
    }

    private static void Run(int minOps, int maxOps, int iterations)
    {
        var full = KernelTarget.IsRoot;
        Scenario? smallest = null;
        var gate = new object();
        try
        {
            OpGen.Scenario(full, minOps, maxOps).Sample(
                s =>
                {
                    if (Check(s, out _, out _) is { } m)
                    {
                        lock (gate)
                        {
                            if (smallest is null || s.Ops.Length < smallest.Ops.Length)
                            {
                                smallest = s;
                            }
                        }

                        throw new InvalidOperationException($"op #{m.Index}: kernel {m.Expected} / engine {m.Actual}");
                    }
                },
                iter: iterations,
                threads: 1,
                print: s => $"{s.Ops.Length} ops");
        }
        catch (Exception e) when (smallest is not null)
        {
            var minimal = Harness.Minimize(smallest, s => Check(s, out _, out _), TimeSpan.FromSeconds(30));
            Check(minimal, out var kernel, out var engine);
            Assert.Fail(
                $"kernel and engine differ ({e.Message.Split('\n')[0]})\n" +
                $"minimal sequence ({minimal.Ops.Length} of {smallest.Ops.Length} ops):\n" +
                Harness.Report(minimal, kernel, engine, "kernel", "engine"));
        }
    }

    /// <summary>TMPFS_DIFF_ITER scales the iteration counts (e.g. 10 for a long local run).</summary>
    private static int Iterations(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("TMPFS_DIFF_ITER"), out var scale) && scale > 0 ? ci * scale : ci;

    [Fact]
    public void Long_random_sequences_agree_with_the_kernel() => Run(200, 400, Iterations(200));

    [Fact]
    public void Short_random_sequences_agree_with_the_kernel() => Run(10, 60, Iterations(400));
}
