using System.IO.Abstractions.TestingHelpers;

namespace Tmpfs.Benchmarks.Stores;

/// <summary>TestableIO's MockFileSystem (System.IO.Abstractions.TestingHelpers).</summary>
internal sealed class MockStore : IStore
{
    private readonly MockFileSystem _fs = new();

    public void CreateDirectory(string path) => _fs.Directory.CreateDirectory(path);

    public void DeleteDirectory(string path) => _fs.Directory.Delete(path, recursive: false);

    public IStoreFile Create(string path) =>
        new StreamFile(_fs.File.Open(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read));

    public IStoreFile Open(string path, bool write) =>
        new StreamFile(_fs.File.Open(path, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read));

    public void CreateEmpty(string path) =>
        _fs.File.Open(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read).Dispose();

    public long GetLength(string path) => _fs.FileInfo.New(path).Length;

    public void Delete(string path) => _fs.File.Delete(path);

    public bool Exists(string path) => _fs.File.Exists(path);

    public void Dispose()
    {
    }
}
