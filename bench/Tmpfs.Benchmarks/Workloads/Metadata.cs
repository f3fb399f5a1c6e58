using BenchmarkDotNet.Attributes;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks.Workloads;

/// <summary>
/// Workload 4: create, stat and delete 100,000 empty files spread over 100 directories.
/// One invocation = all 100,000 files; BenchmarkDotNet reports the time per file.
/// </summary>
[Config(typeof(BenchConfig))]
[WarmupCount(3)]
[IterationCount(9)]
public class Metadata
{
    private const int Files = 100_000;
    private const int Directories = 100;

    private IStore _store = null!;
    private string[] _paths = null!;

    [Params(Peer.Tmpfs, Peer.Zio, Peer.Mock, Peer.KernelTmpfs, Peer.Ceiling)]
    public Peer Peer { get; set; }

    private void Init()
    {
        _store = StoreFactory.Create(Peer, new StoreShape(0, 0, Files + Directories + 16));
        _paths = Data.Paths(Files, Directories, out var dirs);
        foreach (var dir in dirs)
        {
            _store.CreateDirectory(dir);
        }
    }

    [GlobalSetup(Target = nameof(Create))]
    public void SetupCreate() => Init();

    [GlobalSetup(Target = nameof(Stat))]
    public void SetupStat()
    {
        Init();
        CreateAll();
    }

    [GlobalSetup(Target = nameof(Delete))]
    public void SetupDelete() => Init();

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [IterationCleanup(Target = nameof(Create))]
    public void AfterCreate() => DeleteAll();

    [IterationSetup(Target = nameof(Delete))]
    public void BeforeDelete() => CreateAll();

    [Benchmark(OperationsPerInvoke = Files)]
    public void Create() => CreateAll();

    [Benchmark(OperationsPerInvoke = Files)]
    public long Stat()
    {
        long total = 0;
        foreach (var path in _paths)
        {
            total += _store.GetLength(path);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Files)]
    public void Delete() => DeleteAll();

    private void CreateAll()
    {
        foreach (var path in _paths)
        {
            _store.CreateEmpty(path);
        }
    }

    private void DeleteAll()
    {
        foreach (var path in _paths)
        {
            _store.Delete(path);
        }
    }
}
