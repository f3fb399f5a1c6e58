namespace Tmpfs.Benchmarks.Stores;

/// <summary>The stores compared side by side.</summary>
public enum Peer
{
    /// <summary>This project's engine (Tmpfs.FileSystem on a MemoryManager).</summary>
    Tmpfs,

    /// <summary>Zio.FileSystems.MemoryFileSystem.</summary>
    Zio,

    /// <summary>System.IO.Abstractions.TestingHelpers.MockFileSystem.</summary>
    Mock,

    /// <summary>The kernel's tmpfs (/dev/shm) through System.IO (File.OpenHandle + RandomAccess).</summary>
    KernelTmpfs,

    /// <summary>The ceiling: memcpy into a pre-faulted, reused native buffer; a Dictionary for names.</summary>
    Ceiling,
}

/// <summary>Sizes a store must be able to hold for one workload.</summary>
/// <param name="SlotSize">Largest file, in bytes.</param>
/// <param name="Slots">Most files holding data at once.</param>
/// <param name="Files">Most inodes (files and directories) at once; the ceiling pre-sizes its dictionary to it.</param>
/// <param name="TightBudget">Our engine: a RAM budget just above the data (overhead mode) rather than twice it.</param>
internal readonly record struct StoreShape(long SlotSize, int Slots, int Files, bool TightBudget = false)
{
    public long DataBytes => SlotSize * Slots;
}

internal static class StoreFactory
{
    public static IStore Create(Peer peer, StoreShape shape) => peer switch
    {
        Peer.Tmpfs => TmpfsStore.Create(shape),
        Peer.Zio => new ZioStore(),
        Peer.Mock => new MockStore(),
        Peer.KernelTmpfs => new KernelStore(),
        Peer.Ceiling => new CeilingStore(shape),
        _ => throw new ArgumentOutOfRangeException(nameof(peer)),
    };
}
