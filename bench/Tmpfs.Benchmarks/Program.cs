using BenchmarkDotNet.Running;
using Tmpfs.Benchmarks;

// dotnet run -c Release --project bench/Tmpfs.Benchmarks -- --filter '*'   BenchmarkDotNet, all workloads
// dotnet run -c Release --project bench/Tmpfs.Benchmarks -- overhead       memory overhead table
// dotnet run -c Release --project bench/Tmpfs.Benchmarks -- smoke          one timed pass of each workload (no BenchmarkDotNet)
// dotnet run -c Release --project bench/Tmpfs.Benchmarks -- copies         the page copy strategies side by side
if (args.Length > 0 && args[0] == "overhead")
{
    return Overhead.Run(args[1..]);
}

if (args.Length > 0 && args[0] == Overhead.ChildVerb)
{
    return Overhead.RunChild(args[1..]);
}

if (args.Length > 0 && args[0] == "copies")
{
    return CopyStrategies.Run();
}

if (args.Length > 0 && args[0] == "smoke")
{
    // As the BenchmarkDotNet job does (BenchConfig): optimized code without the tiering delay,
    // so the few passes measure the steady state. The setting is read at start-up: re-run.
    const string delay = "DOTNET_TC_CallCountingDelayMs";
    if (Environment.GetEnvironmentVariable(delay) is null && Environment.ProcessPath is { } host)
    {
        var start = new System.Diagnostics.ProcessStartInfo(host) { Environment = { [delay] = "0" } };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Smoke).Assembly.Location);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var child = System.Diagnostics.Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }

    return Smoke.Run(args[1..]);
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Overhead).Assembly).Run(args);
var reports = summaries.SelectMany(s => s.Reports).ToList();
if (reports.Count > 0)
{
    var table = Ratios.Render(reports);
    Console.WriteLine();
    Console.WriteLine(table);
    var dir = summaries.First().ResultsDirectoryPath;
    Directory.CreateDirectory(dir);
    var path = Path.Combine(dir, "ratios.md");
    File.WriteAllText(path, table);
    Console.WriteLine($"ratios written to {path}");
}

return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
