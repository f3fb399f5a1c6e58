using System.Text;
using CsCheck;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// Not a CI test: with TMPFS_DIFF_SURVEY=N set, runs N random scenarios, groups the first
/// difference of each by (operation, kernel result, engine result), minimizes one scenario per
/// group and writes them all to TMPFS_DIFF_SURVEY_OUT (default /tmp/tmpfs-diff-survey.txt).
/// Used to triage discrepancies into docs/differential-findings.md.
/// </summary>
public sealed class SurveyTests
{
    [Fact]
    public void Survey()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("TMPFS_DIFF_SURVEY"), out var n))
        {
            return;
        }

        var output = Environment.GetEnvironmentVariable("TMPFS_DIFF_SURVEY_OUT") ?? "/tmp/tmpfs-diff-survey.txt";
        var groups = new Dictionary<string, (Scenario Scenario, int Count)>();
        var gen = OpGen.Scenario(KernelTarget.IsRoot, 200, 400);
        var pcg = PCG.ThreadPCG;
        for (var i = 0; i < n; i++)
        {
            var s = gen.Generate(pcg, null, out _);
            var k = Harness.RunKernel(s);
            using var e = new EngineTarget(s.Options);
            var r = Harness.RunOnOwnThread(e, s);
            if (Harness.Compare(k, r) is { } m)
            {
                var key = Signature(s, m);
                groups[key] = groups.TryGetValue(key, out var g) ? (g.Scenario.Ops.Length <= s.Ops.Length ? g.Scenario : s, g.Count + 1) : (s, 1);
            }
        }

        var sb = new StringBuilder();
        foreach (var (key, (scenario, count)) in groups.OrderByDescending(g => g.Value.Count))
        {
            var minimal = Harness.Minimize(scenario, Check, TimeSpan.FromSeconds(20));
            var kernel = Harness.RunKernel(minimal);
            using var e = new EngineTarget(minimal.Options);
            var engine = Harness.RunOnOwnThread(e, minimal);
            sb.Append("=== ").Append(count).Append("x ").Append(key).Append('\n');
            sb.Append(Harness.Report(minimal, kernel, engine, "kernel", "engine")).Append('\n');
        }

        File.WriteAllText(output, sb.ToString());
    }

    private static Mismatch? Check(Scenario s)
    {
        var k = Harness.RunKernel(s);
        using var e = new EngineTarget(s.Options);
        return Harness.Compare(k, Harness.RunOnOwnThread(e, s));
    }

    private static string Signature(Scenario s, Mismatch m)
    {
        static string Short(string x) => x.Length > 40 ? x[..40] : x;
        var kind = m.Kind(s);
        if (kind == "final-snapshot" || kind == nameof(SnapshotOp))
        {
            return kind;
        }

        return $"{kind}: kernel {Short(m.Expected.Split(' ')[0])} / engine {Short(m.Actual.Split(' ')[0])}";
    }
}
