using Tmpfs.Cli.Commands;
using Tmpfs.Cli.Stress;
using Xunit.Abstractions;

namespace Tmpfs.Tests.Stress;

/// <summary>
/// The seed's reproducer at CI scale: tens of workers looping mount / write / verify /
/// unmount for about 20 seconds on a budget a fraction of what they write, with a swap file
/// cycling through swapon and swapoff. Nothing may break and nothing may be left behind.
/// </summary>
public sealed class StressRunnerTests(ITestOutputHelper output)
{
    [Fact]
    public void SeedReproducer_CiScale_NoViolationsNoLeaks_AndSwapWorkedBothWays()
    {
        var options = new StressOptions
        {
            Workers = 24,
            Duration = TimeSpan.FromSeconds(20),
            Budget = 16L << 20,          // 24 workers x up to 8 MiB each: about 6 times the budget in flight
            SwapSize = 256L << 20,        // more than the workers can write together: swapoff always has somewhere to push
            CyclingSwapSize = 4L << 20,  // small enough that swapoff can bring it home into 16 MiB now and then
            MaxFile = 8L << 20,
            ChunkSize = 256 << 10,
            Seed = 20110511,             // the day of the seed's fix
            CheckEvery = 4,
        };

        var report = new StressRunner(options).Run();
        output.WriteLine(report.ToString());

        Assert.True(report.Violations == 0, "violations:\n" + report);
        Assert.True(report.Leaks.Count == 0, "leaks:\n" + report);
        Assert.True(report.UnexpectedErrors == 0, "unexpected errors:\n" + report);
        Assert.True(report.Passed, report.ToString());
        Assert.True(report.Loops > 0 && report.BytesVerified > 0, "no loop completed:\n" + report);
        Assert.True(report.Memory.PswpOut > 0, "nothing was swapped out:\n" + report);
        Assert.True(report.Memory.PswpIn > 0, "nothing was swapped in:\n" + report);
        Assert.True(report.SwapoffOk >= 1, "no swapoff of the cycling file succeeded during the run:\n" + report);
        Assert.True(report.FsckRuns > 0, "no mount was checked:\n" + report);
        Assert.Equal(report.Mounts, report.Unmounts);
        Assert.False(Directory.Exists(report.SwapDirectory), "the swap directory was not removed");
    }

    [Fact]
    public void Cancelled_StopsEarly_AndStillCleansUp()
    {
        var options = new StressOptions
        {
            Workers = 8,
            Duration = TimeSpan.FromMinutes(5),
            Budget = 8L << 20,
            SwapSize = 32L << 20,
            MaxFile = 4L << 20,
            ChunkSize = 64 << 10,
            Seed = 7,
        };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        var report = new StressRunner(options).Run(cancel: cancel.Token);
        output.WriteLine(report.ToString());

        Assert.True(report.Interrupted);
        Assert.True(report.Elapsed < TimeSpan.FromMinutes(1), $"took {report.Elapsed} to stop");
        Assert.True(report.Passed, report.ToString());
        Assert.False(Directory.Exists(report.SwapDirectory), "the swap directory was not removed");
    }

    [Fact]
    public void DataPattern_DiffersByLoopAndOffset_AndLocatesAMismatch()
    {
        var a = new byte[8192];
        var b = new byte[8192];
        DataPattern.Fill(a, DataPattern.Key(1, 2, 3), 4096);
        DataPattern.Fill(b, DataPattern.Key(1, 2, 4), 4096);
        Assert.False(a.AsSpan().SequenceEqual(b), "two loops wrote the same data");

        DataPattern.Fill(b, DataPattern.Key(1, 2, 3), 0);
        Assert.True(a.AsSpan(0, 4096).SequenceEqual(b.AsSpan(4096)), "the pattern is not a function of the file offset");

        Assert.Equal(-1, DataPattern.FirstMismatch(a, DataPattern.Key(1, 2, 3), 4096, out _, out _));
        a[1234] ^= 0x10;
        Assert.Equal(4096 + 1234, DataPattern.FirstMismatch(a, DataPattern.Key(1, 2, 3), 4096, out var expected, out var found));
        Assert.Equal(expected ^ 0x10, found);
        Assert.Equal(0, DataPattern.FirstMismatch(new byte[64], DataPattern.Key(1, 2, 3), 0, out _, out _)); // zeroes never pass
    }

    [Theory]
    [InlineData("60", 60)]
    [InlineData("60s", 60)]
    [InlineData("2m", 120)]
    [InlineData("500ms", 0.5)]
    [InlineData("1h", 3600)]
    [InlineData("00:01:30", 90)]
    public void Durations_Parse(string text, double seconds)
    {
        Assert.True(CliValues.TryParseDuration(text, out var value));
        Assert.Equal(seconds, value.TotalSeconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-5s")]
    public void BadDurations_AreRejected(string text) => Assert.False(CliValues.TryParseDuration(text, out _));

    [Fact]
    public void BadOptions_AreRejectedBeforeAnythingRuns()
    {
        Assert.Throws<ArgumentException>(() => new StressRunner(new StressOptions { Workers = 0 }));
        Assert.Throws<ArgumentException>(() => new StressRunner(new StressOptions { ChunkSize = 1000 }));
        Assert.Throws<DirectoryNotFoundException>(() => new StressRunner(new StressOptions { Duration = TimeSpan.FromSeconds(1), SwapDirectory = "/nonexistent-dir-for-stress" }).Run());
    }
}
