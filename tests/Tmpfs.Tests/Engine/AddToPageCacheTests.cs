using Tmpfs.Shmem;

namespace Tmpfs.Tests.Engine;

/// <summary>
/// shmem_add_to_page_cache's -EEXIST: frames allocated for a run whose slots are not all
/// holes (which the inode lock should make impossible) are not added at all. The run's slots
/// before the occupied one are taken out again, the occupied entry is left as it was, and
/// the frames and their blocks go back: the budget and the mount's counters are where they were.
/// </summary>
public sealed class AddToPageCacheTests : EngineTest
{
    [Fact]
    public void ARunMeetingAPresentPage_AddsNothingAndGivesItsFramesBack()
    {
        var data = new byte[4096];
        Array.Fill(data, (byte)0x5A);
        using var h = Fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        h.Write(data, 2 * 4096); // page 2 present; pages 0 and 1 holes
        var inode = PathWalk.Lookup(Fs.Superblock, "/f", Credentials.Root, followFinal: true);
        var present = inode.Pages.Get(2);
        var free = Memory.FreeBytes;
        var blocks = Fs.Superblock.UsedBlocks;
        var alloced = inode.Alloced;

        // Two frames for the holes at 0 and 1, then added at 1 and 2: slot 1 takes one,
        // slot 2 is present.
        Span<int> pfns = stackalloc int[2];
        lock (inode)
        {
            Assert.Equal(2, PageCache.AllocateRun(inode, 0, 0, 2 * 4096, pfns));
            Assert.True(Memory.FreeBytes < free);
            var run = pfns.ToArray();
            var e = Assert.Throws<InvalidOperationException>(() => PageCache.AddToPageCache(inode, 1, run));
            Assert.Contains("slot 2", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, inode.Pages.Get(0));
        Assert.Equal(0, inode.Pages.Get(1));
        Assert.Equal(present, inode.Pages.Get(2));
        Assert.Equal(free, Memory.FreeBytes);
        Assert.Equal(blocks, Fs.Superblock.UsedBlocks);
        Assert.Equal(alloced, inode.Alloced);
        var back = new byte[3 * 4096];
        Assert.Equal(back.Length, h.Read(back, 0));
        Assert.All(back.AsSpan(0, 2 * 4096).ToArray(), b => Assert.Equal(0, b));
        Assert.True(back.AsSpan(2 * 4096).SequenceEqual(data));
        Assert.Empty(Fsck.Check(Fs.Superblock));
    }
}
