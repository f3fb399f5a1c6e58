namespace Tmpfs.Benchmarks.Stores;

/// <summary>
/// This project's engine: one MemoryManager and one mount per store, kept for the whole
/// benchmark so that freed page frames are reused by the next iteration.
/// </summary>
internal sealed class TmpfsStore : IStore, INativeMemory
{
    private readonly MemoryManager _memory;
    private readonly FileSystem _fs;

    private TmpfsStore(long budget, string options)
    {
        _memory = new MemoryManager(budget);
        _fs = _memory.Mount(options);
    }

    public static IStore Create(StoreShape shape)
    {
        // Benchmarks: a budget twice the data (2 GiB for the 1 GiB workloads). Overhead mode:
        // a budget just above the data, so per-frame bookkeeping is charged to stored bytes only.
        var data = shape.DataBytes;
        var budget = shape.TightBudget ? data + (16 * 1024 * 1024) : Math.Max(2 * data, 256L * 1024 * 1024);
        var size = data + (8 * 1024 * 1024);
        var inodes = Math.Max(shape.Files * 2L, 1_000_000);
        return new TmpfsStore(budget, $"size={size},nr_inodes={inodes},mode=1777");
    }

    public long NativeBytes => _memory.ReservedBytes;

    public void CreateDirectory(string path) => _fs.Mkdir(path, 0x1ED /* 0755 */);

    public void DeleteDirectory(string path) => _fs.Rmdir(path);

    public IStoreFile Create(string path) =>
        new File(_fs.Open(path, OpenFlags.Create | OpenFlags.Truncate | OpenFlags.ReadWrite, 0x1A4 /* 0644 */));

    public IStoreFile Open(string path, bool write) =>
        new File(_fs.Open(path, write ? OpenFlags.ReadWrite : OpenFlags.ReadOnly, 0));

    public void CreateEmpty(string path) =>
        _fs.Open(path, OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.WriteOnly, 0x1A4 /* 0644 */).Dispose();

    public long GetLength(string path) => _fs.Stat(path).Size;

    public void Delete(string path) => _fs.Unlink(path);

    public bool Exists(string path)
    {
        try
        {
            _fs.Stat(path);
            return true;
        }
        catch (TmpfsException e) when (e.Errno == Errno.ENOENT)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _fs.Unmount(detach: true);
        _memory.Dispose();
    }

    private sealed class File(FileHandle handle) : IStoreFile
    {
        public void Write(ReadOnlySpan<byte> data, long offset) => handle.Write(data, offset);

        public int Read(Span<byte> buffer, long offset) => handle.Read(buffer, offset);

        public void Dispose() => handle.Dispose();
    }
}
