namespace Tmpfs.Tests.Swap;

/// <summary>A temporary directory for swap files, removed with everything in it.</summary>
public sealed class SwapDir : IDisposable
{
    public SwapDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tmpfs-swap-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
