using Zio.FileSystems;

namespace Tmpfs.Benchmarks.Stores;

/// <summary>Zio's MemoryFileSystem.</summary>
internal sealed class ZioStore : IStore
{
    private readonly MemoryFileSystem _fs = new();

    public void CreateDirectory(string path) => _fs.CreateDirectory(path);

    public void DeleteDirectory(string path) => _fs.DeleteDirectory(path, isRecursive: false);

    public IStoreFile Create(string path) =>
        new StreamFile(_fs.OpenFile(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read));

    public IStoreFile Open(string path, bool write) =>
        new StreamFile(_fs.OpenFile(path, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read));

    public void CreateEmpty(string path) =>
        _fs.OpenFile(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read).Dispose();

    public long GetLength(string path) => _fs.GetFileLength(path);

    public void Delete(string path) => _fs.DeleteFile(path);

    public bool Exists(string path) => _fs.FileExists(path);

    public void Dispose() => _fs.Dispose();
}
