namespace Tmpfs.Benchmarks.Stores;

/// <summary>
/// The smallest surface every peer can offer: absolute '/'-separated paths, positional
/// reads and writes through an open file. Benchmarks call peers only through this, so the
/// (constant, few-nanosecond) interface dispatch is the same for everyone.
/// </summary>
internal interface IStore : IDisposable
{
    void CreateDirectory(string path);

    void DeleteDirectory(string path);

    /// <summary>Creates (or truncates) a file and opens it read-write.</summary>
    IStoreFile Create(string path);

    /// <summary>Opens an existing file.</summary>
    IStoreFile Open(string path, bool write);

    /// <summary>Creates an empty file and closes it (open(O_CREAT|O_EXCL) + close).</summary>
    void CreateEmpty(string path);

    /// <summary>stat(2): the file's size.</summary>
    long GetLength(string path);

    void Delete(string path);

    bool Exists(string path);
}

/// <summary>An open file: pwrite / pread.</summary>
internal interface IStoreFile : IDisposable
{
    void Write(ReadOnlySpan<byte> data, long offset);

    int Read(Span<byte> buffer, long offset);
}

/// <summary>A store that keeps data outside the GC heap and can say how much it holds.</summary>
internal interface INativeMemory
{
    /// <summary>Bytes of native memory the store has reserved (committed) right now.</summary>
    long NativeBytes { get; }
}
