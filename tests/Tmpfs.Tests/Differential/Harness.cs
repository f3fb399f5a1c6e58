using System.Diagnostics;
using System.Text;

namespace Tmpfs.Tests.Differential;

/// <summary>The first result two runs of a scenario disagree on.</summary>
internal sealed record Mismatch(int Index, string Expected, string Actual)
{
    /// <summary>The kind of operation that differed ("snapshot" for the final tree comparison).</summary>
    public string Kind(Scenario s) => Index < s.Ops.Length ? s.Ops[Index].GetType().Name : "final-snapshot";
}

/// <summary>Runs scenarios on targets, compares, and shrinks failures to a minimal sequence.</summary>
internal static class Harness
{
    /// <summary>Runs a scenario on a fresh kernel tmpfs, on a dedicated thread (credentials and chroot are per thread).</summary>
    public static List<string> RunKernel(Scenario s)
    {
        using var target = new KernelTarget(s.Options);
        return RunOnOwnThread(target, s);
    }

    public static List<string> RunOnOwnThread(IFsTarget target, Scenario s)
    {
        List<string>? results = null;
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    results = new Runner(target).Run(s.Ops);
                }
                catch (Exception e)
                {
                    error = e;
                }
            },
            16 << 20)
        {
            Name = $"{target.Name} sequence",
            IsBackground = true,
        };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException($"{target.Name}: sequence did not finish in 60 s (blocked in a call?)");
        }

        if (error is not null)
        {
            throw new InvalidOperationException($"harness failure on {target.Name}: {error.Message}", error);
        }

        return results!;
    }

    public static Mismatch? Compare(List<string> expected, List<string> actual)
    {
        for (var i = 0; i < Math.Max(expected.Count, actual.Count); i++)
        {
            var e = i < expected.Count ? expected[i] : "<missing>";
            var a = i < actual.Count ? actual[i] : "<missing>";
            if (e != a)
            {
                return new Mismatch(i, e, a);
            }
        }

        return null;
    }

    /// <summary>
    /// Delta debugging over the operations: the smallest sequence (1-minimal, within the time
    /// budget) that still fails on the same kind of operation.
    /// </summary>
    public static Scenario Minimize(Scenario failing, Func<Scenario, Mismatch?> check, TimeSpan budget)
    {
        var sw = Stopwatch.StartNew();
        var first = check(failing) ?? throw new InvalidOperationException("the failure did not reproduce");
        var kind = first.Kind(failing);
        bool Fails(Op[] ops)
        {
            var s = failing with { Ops = ops };
            return check(s) is { } m && m.Kind(s) == kind;
        }

        var current = failing.Ops;
        if (first.Index < current.Length)
        {
            current = current[..(first.Index + 1)];
        }

        var chunks = 2;
        while (current.Length >= 2 && sw.Elapsed < budget)
        {
            var size = (int)Math.Ceiling(current.Length / (double)chunks);
            var reduced = false;
            for (var start = 0; start < current.Length && sw.Elapsed < budget; start += size)
            {
                var candidate = current[..start].Concat(current[Math.Min(current.Length, start + size)..]).ToArray();
                if (candidate.Length > 0 && Fails(candidate))
                {
                    current = candidate;
                    chunks = Math.Max(chunks - 1, 2);
                    reduced = true;
                    break;
                }
            }

            if (!reduced)
            {
                if (size == 1)
                {
                    break;
                }

                chunks = Math.Min(chunks * 2, current.Length);
            }
        }

        return failing with { Ops = current };
    }

    /// <summary>The failure report: the sequence with each result, the first difference marked.</summary>
    public static string Report(Scenario s, List<string> expected, List<string> actual, string expectedName, string actualName)
    {
        var m = Compare(expected, actual);
        var sb = new StringBuilder();
        sb.Append("mount -t tmpfs -o ").Append(s.Options).Append('\n');
        for (var i = 0; i <= s.Ops.Length; i++)
        {
            var op = i < s.Ops.Length ? s.Ops[i].ToString() : "(final snapshot)";
            var e = i < expected.Count ? expected[i] : "<missing>";
            var a = i < actual.Count ? actual[i] : "<missing>";
            sb.Append(i == m?.Index ? ">>#" : "  #").Append(i).Append(' ').Append(op).Append('\n');
            if (e == a)
            {
                sb.Append("      => ").Append(Indent(e)).Append('\n');
            }
            else
            {
                sb.Append("      ").Append(expectedName).Append(": ").Append(Indent(e)).Append('\n');
                sb.Append("      ").Append(actualName).Append(": ").Append(Indent(a)).Append('\n');
                if (e.Contains('\n', StringComparison.Ordinal) || a.Contains('\n', StringComparison.Ordinal))
                {
                    sb.Append("      first differing line:\n").Append(FirstDifferentLine(e, a, expectedName, actualName));
                }

                break;
            }
        }

        return sb.ToString();
    }

    private static string Indent(string s) => s.Replace("\n", "\n        ", StringComparison.Ordinal);

    private static string FirstDifferentLine(string e, string a, string en, string an)
    {
        var el = e.Split('\n');
        var al = a.Split('\n');
        for (var i = 0; i < Math.Max(el.Length, al.Length); i++)
        {
            var x = i < el.Length ? el[i] : "<none>";
            var y = i < al.Length ? al[i] : "<none>";
            if (x != y)
            {
                return $"        {en}: {x.Trim()}\n        {an}: {y.Trim()}\n";
            }
        }

        return string.Empty;
    }
}
