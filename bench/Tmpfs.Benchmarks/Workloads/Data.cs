namespace Tmpfs.Benchmarks.Workloads;

internal static class Data
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;

    /// <summary>Incompressible, non-zero bytes (fixed seed).</summary>
    public static byte[] Random(int length, int seed = 1)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        new Random(seed).NextBytes(buffer);
        return buffer;
    }

    /// <summary>The d/f path of file i, spread over the given directories.</summary>
    public static string[] Paths(int files, int directories, out string[] dirs)
    {
        dirs = new string[directories];
        for (var d = 0; d < directories; d++)
        {
            dirs[d] = $"/d{d:D3}";
        }

        var paths = new string[files];
        for (var i = 0; i < files; i++)
        {
            paths[i] = $"{dirs[i % directories]}/f{i:D6}";
        }

        return paths;
    }
}
