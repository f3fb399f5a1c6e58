using Microsoft.Coyote.Specifications;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Systematic;

/// <summary>
/// One schedule's world: a tiny budget with one swap file, files of a few pages with known
/// contents, and the invariant checks every scenario ends with (unmount's own checks run
/// inside Unmount: "busy inodes after unmount", swaplist, slots, frames, counters).
/// Failures are Coyote assertions, so the engine reports the schedule that broke them.
/// </summary>
internal sealed class SwapWorld : IDisposable
{
    public const int Page = 4096;

    public SwapWorld(string swapPath)
    {
        SwapPath = swapPath;
        Memory = new MemoryManager(64 * Page); // watermarks 4/5/6 pages: kswapd stays asleep
        Memory.Swapon(swapPath, 32 * Page);
    }

    public MemoryManager Memory { get; }

    public string SwapPath { get; }

    /// <summary>The contents of page <paramref name="page"/> of a file made with <paramref name="seed"/>.</summary>
    public static byte[] Pattern(int seed, int page)
    {
        var data = new byte[Page];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)((seed * 73) + (page * 31) + (i * 7) + 1);
        }

        return data;
    }

    public static void Check(bool condition, string what) => Specification.Assert(condition, what);

    /// <summary>Creates <paramref name="path"/> with <paramref name="pages"/> patterned pages; returns it open.</summary>
    public static FileHandle WriteFile(FileSystem fs, string path, int pages, int seed)
    {
        var h = fs.Open(path, OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        for (var p = 0; p < pages; p++)
        {
            h.Write(Pattern(seed, p), (long)p * Page);
        }

        return h;
    }

    /// <summary>Reads the file back and compares it with its pattern; null pages must read as zeros.</summary>
    public static void CheckFile(FileSystem fs, string path, int seed, params bool[] present)
    {
        using var h = fs.Open(path, OpenFlags.ReadOnly);
        var buffer = new byte[Page];
        for (var p = 0; p < present.Length; p++)
        {
            Array.Clear(buffer);
            var n = h.Read(buffer, (long)p * Page);
            Check(n == Page, $"{path} page {p}: read {n} bytes");
            var expected = present[p] ? Pattern(seed, p) : new byte[Page];
            Check(buffer.AsSpan().SequenceEqual(expected), $"{path} page {p}: " + (present[p] ? "data changed" : "truncated data came back"));
        }
    }

    /// <summary>Reclaims until no file page is resident (setup, outside the explored part).</summary>
    public void SwapOutAll()
    {
        for (var i = 0; i < 8 && Memory.ShmemPages > 0; i++)
        {
            Memory.Reclaim.Shrink(64);
        }

        Check(Memory.ShmemPages == 0, $"setup: {Memory.ShmemPages} page(s) still resident");
    }

    /// <summary>After an unmount: nothing of the superblock is left anywhere.</summary>
    public void CheckGone(Superblock sb)
    {
        var listed = Memory.Swaplist.Snapshot().Count(i => ReferenceEquals(i.Sb, sb));
        Check(listed == 0, $"{listed} inode(s) of an unmounted mount on the swaplist");
        Check(sb.UsedInodes == 0, $"VFS: Busy inodes after unmount: {sb.UsedInodes}");
        Check(sb.UsedBlocks == 0, $"{sb.UsedBlocks} block(s) still charged to an unmounted mount");
        Check(Fsck.FramesOwnedBy(sb) == 0, "frames still owned by an unmounted mount");
    }

    /// <summary>Every inode with pages on swap is on the swaplist (swapoff must be able to find it).</summary>
    public void CheckSwappedAreListed(Superblock sb)
    {
        var listed = Memory.Swaplist.Snapshot();
        foreach (var inode in sb.SnapshotInodes())
        {
            var swapped = inode.Swapped;
            Check(swapped >= 0, $"inode {inode.Ino}: swapped {swapped}");
            Check(swapped == 0 || listed.Contains(inode), $"inode {inode.Ino} has {swapped} page(s) on swap but is not on the swaplist");
        }
    }

    /// <summary>
    /// The end of every schedule, all mounts unmounted: swapoff (if the device is still on)
    /// succeeds and removes the file; every frame, slot and counter is back.
    /// </summary>
    public void SwapoffAndCheckEmpty()
    {
        if (Memory.SwapDevices.Count != 0)
        {
            Memory.Swapoff(SwapPath);
        }

        Check(!File.Exists(SwapPath), "swapoff left the swap file behind");
        Check(Memory.FreeBytes == Memory.TotalBytes, $"{(Memory.TotalBytes - Memory.FreeBytes) / Page} frame(s) still in use");
        Check(Memory.ShmemBytes == 0, "Shmem not back to 0");
        Check(Memory.Swap.CachedPages == 0, "pages left in the swap cache");
        Check(Memory.Swaplist.Count == 0, $"{Memory.Swaplist.Count} inode(s) left on the swaplist");
        var problems = Fsck.CheckMemory(Memory);
        Check(problems.Count == 0, "fsck: " + string.Join("; ", problems));
    }

    public void Dispose() => Memory.Dispose();
}
