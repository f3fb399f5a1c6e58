using BenchmarkDotNet.Attributes;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks.Workloads;

/// <summary>
/// Workload 3: 4 KiB random reads and random overwrites at 4 KiB-aligned offsets (fixed
/// seed) in a 256 MiB file kept open. One invocation = 262,144 operations (1 GiB moved);
/// BenchmarkDotNet reports the time per operation.
/// </summary>
[Config(typeof(BenchConfig))]
[WarmupCount(3)]
[IterationCount(9)]
public class RandomIo
{
    private const int Ops = 262_144;
    private const int Block = 4096;
    private const long FileSize = 256 * Data.MiB;

    private IStore _store = null!;
    private IStoreFile _file = null!;
    private byte[] _buffer = null!;
    private long[] _offsets = null!;

    [Params(Peer.Tmpfs, Peer.Zio, Peer.Mock, Peer.KernelTmpfs, Peer.Ceiling)]
    public Peer Peer { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _store = StoreFactory.Create(Peer, new StoreShape(FileSize, 1, 16));
        var chunk = Data.Random((int)Data.MiB);
        _file = _store.Create("/random");
        for (long offset = 0; offset < FileSize; offset += chunk.Length)
        {
            _file.Write(chunk, offset);
        }

        _buffer = Data.Random(Block, seed: 2);
        var rng = new Random(42);
        _offsets = new long[Ops];
        for (var i = 0; i < Ops; i++)
        {
            _offsets[i] = rng.NextInt64(FileSize / Block) * Block;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _file.Dispose();
        _store.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public long RandomRead()
    {
        var buffer = _buffer.AsSpan();
        long total = 0;
        foreach (var offset in _offsets)
        {
            total += _file.Read(buffer, offset);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RandomOverwrite()
    {
        ReadOnlySpan<byte> buffer = _buffer;
        foreach (var offset in _offsets)
        {
            _file.Write(buffer, offset);
        }
    }
}
