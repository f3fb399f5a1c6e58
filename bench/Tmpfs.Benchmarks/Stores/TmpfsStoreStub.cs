namespace Tmpfs.Benchmarks.Stores;

/// <summary>This project's engine. Filled in once FileSystem/MemoryManager land on main.</summary>
internal static class TmpfsStore
{
    public static IStore Create(StoreShape shape) =>
        throw new NotSupportedException($"the engine has not landed yet ({shape})");
}
