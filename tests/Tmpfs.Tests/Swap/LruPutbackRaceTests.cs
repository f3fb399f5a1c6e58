using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Swap;

/// <summary>
/// Reclaim puts a page it could not free back on the LRU after unlocking it. If truncation
/// took the page out of its file in that window, the page's last reference is reclaim's:
/// the frame must not stay linked on an LRU list once it is free (found by tmpfs stress as
/// "get_page on a free frame" in a later isolation).
/// </summary>
public sealed class LruPutbackRaceTests
{
    [Theory]
    [InlineData(true)]  // writepage refused, or the write to swap failed: back to the active list
    [InlineData(false)] // trylock failed, or someone held the swap-cache page: back to the inactive list
    public void TruncatedWhileIsolated_ThenPutBack_TheLastPutUnlinksTheFreedFrame(bool activate)
    {
        using var memory = new MemoryManager(1L << 20);
        var fs = memory.Mount();
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        file.Write(new byte[4096], 0);
        var pfn = PageCacheTree.ToFrame(file.Inode.Pages.Get(0));

        // Reclaim isolates the page (off the lists, with a reference of its own)...
        Span<int> isolated = stackalloc int[SwapWriteBatch.MaxPages];
        var n = 0;
        for (var tries = 0; tries < 4 && n == 0; tries++)
        {
            memory.Lru.Deactivate(16);
            memory.Frames.ClearFlag(pfn, PageFlags.Referenced);
            n = memory.Lru.IsolateInactive(isolated, out _);
        }

        Assert.Equal(1, n);
        Assert.Equal(pfn, isolated[0]);

        // ...truncation removes it from the file meanwhile: its LRU removal finds nothing to do...
        file.Truncate(0);
        Assert.Equal(1, memory.Frames.RefCount(pfn));

        // ...and reclaim, having unlocked it, puts it back and drops the last reference.
        memory.Lru.Putback(pfn, activate);
        memory.Frames.PutPage(pfn);

        Assert.False(memory.Frames.TestFlag(pfn, PageFlags.Lru), "a free frame is still flagged on an LRU list");
        Assert.Equal(0, memory.Lru.ActiveCount + memory.Lru.InactiveCount);
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);

        // The frame is reused cleanly, and the next isolation finds nothing stale.
        file.Write(new byte[4096], 0);
        Assert.Equal(1, memory.Lru.ActiveCount + memory.Lru.InactiveCount);
        Assert.Empty(memory.CheckConsistency());
    }
}
