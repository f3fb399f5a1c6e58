using BenchmarkDotNet.Attributes;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks.Workloads;

/// <summary>
/// Workload 5: 20,000 files of 4 KiB (in 100 directories) each created, written and closed,
/// then each opened, read and closed. One invocation = all 20,000 files; BenchmarkDotNet
/// reports the time per file.
/// </summary>
[Config(typeof(BenchConfig))]
[WarmupCount(3)]
[IterationCount(9)]
public class SmallFiles
{
    private const int Files = 20_000;
    private const int Directories = 100;
    private const int FileSize = 4096;

    private IStore _store = null!;
    private string[] _paths = null!;
    private byte[] _data = null!;
    private byte[] _buffer = null!;

    [Params(Peer.Tmpfs, Peer.Zio, Peer.Mock, Peer.KernelTmpfs, Peer.Ceiling)]
    public Peer Peer { get; set; }

    private void Init()
    {
        _store = StoreFactory.Create(Peer, new StoreShape(FileSize, Files, Files + Directories + 16));
        _paths = Data.Paths(Files, Directories, out var dirs);
        foreach (var dir in dirs)
        {
            _store.CreateDirectory(dir);
        }

        _data = Data.Random(FileSize);
        _buffer = new byte[FileSize];
    }

    [GlobalSetup(Target = nameof(Write))]
    public void SetupWrite() => Init();

    [GlobalSetup(Target = nameof(Read))]
    public void SetupRead()
    {
        Init();
        Write();
    }

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [IterationCleanup(Target = nameof(Write))]
    public void DeleteAll()
    {
        foreach (var path in _paths)
        {
            _store.Delete(path);
        }
    }

    [Benchmark(OperationsPerInvoke = Files)]
    public void Write()
    {
        ReadOnlySpan<byte> data = _data;
        foreach (var path in _paths)
        {
            using var file = _store.Create(path);
            file.Write(data, 0);
        }
    }

    [Benchmark(OperationsPerInvoke = Files)]
    public long Read()
    {
        var buffer = _buffer.AsSpan();
        long total = 0;
        foreach (var path in _paths)
        {
            using var file = _store.Open(path, write: false);
            total += file.Read(buffer, 0);
        }

        return total == (long)Files * FileSize ? total : throw new InvalidOperationException($"short read {total}");
    }
}
