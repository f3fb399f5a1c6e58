using Microsoft.Win32.SafeHandles;

namespace Tmpfs.Benchmarks.Stores;

/// <summary>
/// The kernel's tmpfs through System.IO: a fresh directory under /dev/shm (removed on
/// dispose), files opened with File.OpenHandle and accessed with RandomAccess (pread/pwrite).
/// </summary>
internal sealed class KernelStore : IStore
{
    private readonly string _root;

    public KernelStore()
    {
        _root = Path.Combine("/dev/shm", $"tmpfs-bench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_root);
    }

    public string Root => _root;

    private string Full(string path) => string.Concat(_root, path);

    public void CreateDirectory(string path) => Directory.CreateDirectory(Full(path));

    public void DeleteDirectory(string path) => Directory.Delete(Full(path), recursive: false);

    public IStoreFile Create(string path) =>
        new HandleFile(File.OpenHandle(Full(path), FileMode.Create, FileAccess.ReadWrite, FileShare.Read));

    public IStoreFile Open(string path, bool write) =>
        new HandleFile(File.OpenHandle(Full(path), FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read));

    public void CreateEmpty(string path) =>
        File.OpenHandle(Full(path), FileMode.CreateNew, FileAccess.Write, FileShare.Read).Dispose();

    public long GetLength(string path) => new FileInfo(Full(path)).Length;

    public void Delete(string path) => File.Delete(Full(path));

    public bool Exists(string path) => File.Exists(Full(path));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private sealed class HandleFile(SafeFileHandle handle) : IStoreFile
    {
        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(handle, data, offset);

        public int Read(Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);

        public void Dispose() => handle.Dispose();
    }
}
