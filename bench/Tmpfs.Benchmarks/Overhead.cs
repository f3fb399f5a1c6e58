namespace Tmpfs.Benchmarks;

internal static class Overhead
{
    public const string ChildVerb = "overhead-child";

    public static int Run(string[] args) => 0;

    public static int RunChild(string[] args) => 0;
}
