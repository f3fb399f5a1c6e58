using BenchmarkDotNet.Attributes;
using Tmpfs.Benchmarks.Stores;

namespace Tmpfs.Benchmarks.Workloads;

/// <summary>
/// Workloads 1 and 2: a 1 GiB file written sequentially (fresh file each iteration; the store
/// and its memory are reused), then read sequentially, in fixed-size chunks.
/// </summary>
[Config(typeof(BenchConfig))]
public abstract class SequentialBase
{
    private const string FilePath = "/seq";
    private const long FileSize = Data.GiB;

    private IStore _store = null!;
    private byte[] _chunk = null!;

    [Params(Peer.Tmpfs, Peer.Zio, Peer.Mock, Peer.KernelTmpfs, Peer.Ceiling)]
    public Peer Peer { get; set; }

    protected abstract int ChunkSize { get; }

    private void Init()
    {
        _store = StoreFactory.Create(Peer, new StoreShape(FileSize, 1, 16));
        _chunk = Data.Random(ChunkSize);
    }

    [GlobalSetup(Target = nameof(Write))]
    public void SetupWrite() => Init();

    [GlobalSetup(Target = nameof(Read))]
    public void SetupRead()
    {
        Init();
        WriteAll();
    }

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [IterationSetup(Target = nameof(Write))]
    public void DeleteFile()
    {
        if (_store.Exists(FilePath))
        {
            _store.Delete(FilePath);
        }
    }

    /// <summary>Create the file and write 1 GiB.</summary>
    [Benchmark]
    public void Write() => WriteAll();

    /// <summary>Open the file and read 1 GiB.</summary>
    [Benchmark]
    public long Read()
    {
        using var file = _store.Open(FilePath, write: false);
        var buffer = _chunk.AsSpan();
        long total = 0;
        for (long offset = 0; offset < FileSize; offset += buffer.Length)
        {
            total += file.Read(buffer, offset);
        }

        return total == FileSize ? total : throw new InvalidOperationException($"short read {total}");
    }

    private void WriteAll()
    {
        using var file = _store.Create(FilePath);
        ReadOnlySpan<byte> chunk = _chunk;
        for (long offset = 0; offset < FileSize; offset += chunk.Length)
        {
            file.Write(chunk, offset);
        }
    }
}

/// <summary>Workload 1: 1 GiB in 1 MiB chunks.</summary>
public class Sequential1M : SequentialBase
{
    protected override int ChunkSize => (int)Data.MiB;
}

/// <summary>Workload 2: 1 GiB in 4 KiB chunks.</summary>
public class Sequential4K : SequentialBase
{
    protected override int ChunkSize => (int)(4 * Data.KiB);
}
