using System.Text;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// A consistency checker for tmpfs, as an fsck would be if tmpfs had one: walks the
/// namespace from the root and every inode of the superblock, and reports each broken
/// invariant as a line of text (an empty list means consistent).
/// </summary>
/// <remarks>
/// <see cref="Check"/> takes the namespace write lock and then the lock of every inode
/// (in inode number order; no other path holds two inode locks, so any order is safe),
/// which makes the mount quiescent: every change to names, links, page cache trees,
/// block and ispace charges is made under one of those locks. A close that races with
/// the check may show up as an unlinked, unopened inode not yet evicted: call it when
/// no operation is in flight for an exact answer. <see cref="CheckMemory"/> compares
/// counters across all mounts of a budget and is exact only when every mount is idle.
/// </remarks>
internal static class Fsck
{
    private const int PageSize = PageFrames.PageSize;

    /// <summary>Checks one mount; see the class remarks for the locks taken.</summary>
    public static List<string> Check(Superblock sb)
    {
        var problems = new List<string>();
        using (Quiesce(sb))
        using (sb.Memory.Reclaim.Pause())
        {
            CheckLocked(sb, problems, frameOwners: null);
        }

        return problems;
    }

    /// <summary>
    /// Checks every mount of a budget (live or detached) and the frame accounting across
    /// them: frames in page caches == sum of used blocks == Shmem pages, and free frames
    /// plus those == all frames. Exact only while every mount is idle.
    /// </summary>
    public static List<string> CheckMemory(MemoryManager memory)
    {
        var problems = new List<string>();
        var held = new List<IDisposable>();
        try
        {
            var superblocks = memory.Superblocks;
            foreach (var sb in superblocks)
            {
                held.Add(Quiesce(sb));
            }

            using var paused = memory.Reclaim.Pause();
            var frames = memory.Frames;
            var owners = new Dictionary<int, Inode>();
            long usedBlocks = 0;
            long swapEntries = 0;
            for (var i = 0; i < superblocks.Count; i++)
            {
                var sub = new List<string>();
                CheckLocked(superblocks[i], sub, owners);
                problems.AddRange(sub.Select(p => $"mount #{i}: {p}"));
                usedBlocks += superblocks[i].UsedBlocks;
                foreach (var inode in superblocks[i].SnapshotInodes())
                {
                    swapEntries += inode.Swapped;
                }
            }

            var swapCached = memory.Swap.CachedPages;

            long mapped = 0;
            for (var pfn = 0; pfn < frames.CarvedFrames; pfn++)
            {
                if (frames[pfn].Mapping is not null)
                {
                    mapped++;
                    if (!owners.ContainsKey(pfn))
                    {
                        problems.Add($"frame {pfn} names a mapping but no page cache of a live mount holds it");
                    }
                }
            }

            var inUse = (long)frames.TotalFrames - frames.FreeFrames;
            var shmem = memory.ShmemPages;
            if (owners.Count + swapCached != inUse || mapped != owners.Count)
            {
                problems.Add($"frames in use {inUse} (total {frames.TotalFrames} - free {frames.FreeFrames}), but {owners.Count} in page caches, {swapCached} in the swap cache and {mapped} with a mapping");
            }

            if (usedBlocks != owners.Count + swapEntries)
            {
                problems.Add($"sum of used blocks {usedBlocks} != {owners.Count} frames in page caches + {swapEntries} swapped");
            }

            if (shmem != owners.Count)
            {
                problems.Add($"Shmem {shmem} pages != {owners.Count} frames in page caches");
            }
        }
        finally
        {
            for (var i = held.Count - 1; i >= 0; i--)
            {
                held[i].Dispose();
            }
        }

        return problems;
    }

    /// <summary>Frames whose descriptor still names an inode of <paramref name="sb"/> (for unmount's check).</summary>
    public static int FramesOwnedBy(Superblock sb)
    {
        var frames = sb.Frames;
        var count = 0;
        for (var pfn = 0; pfn < frames.CarvedFrames; pfn++)
        {
            if (frames[pfn].Mapping is Inode inode && ReferenceEquals(inode.Sb, sb))
            {
                count++;
            }
        }

        return count;
    }

    private static Quiescence Quiesce(Superblock sb)
    {
        sb.NamespaceLock.EnterWrite();
        var locked = new List<Inode>();
        try
        {
            foreach (var inode in sb.SnapshotInodes().OrderBy(i => i.Ino))
            {
                Monitor.Enter(inode);
                locked.Add(inode);
            }
        }
        catch
        {
            new Quiescence(sb, locked).Dispose();
            throw;
        }

        return new Quiescence(sb, locked);
    }

    private static void CheckLocked(Superblock sb, List<string> problems, Dictionary<int, Inode>? frameOwners)
    {
        var set = sb.SnapshotInodes();
        var inSet = new HashSet<Inode>(set, ReferenceEqualityComparer.Instance);
        var names = new Dictionary<Inode, int>(ReferenceEqualityComparer.Instance);
        var reachable = new HashSet<Inode>(ReferenceEqualityComparer.Instance);
        var owners = frameOwners ?? [];
        var root = sb.Root;

        // The namespace, breadth first from the root.
        var queue = new Queue<Inode>();
        reachable.Add(root);
        queue.Enqueue(root);
        if (!root.IsDirectory || root.Dir is null)
        {
            problems.Add("the root is not a directory");
            return;
        }

        if (!ReferenceEquals(root.Dir.Parent, root))
        {
            problems.Add($"root's parent is inode {root.Dir.Parent.Ino}, not itself");
        }

        while (queue.Count > 0)
        {
            var dir = queue.Dequeue();
            var contents = dir.Dir!;
            var subdirs = 0;
            var live = 0;
            long lastCookie = 0;
            for (var at = 0; at < contents.PositionCount; at++)
            {
                if (contents.EntryAt(at) is not { } e)
                {
                    continue;
                }

                live++;
                if (e.Cookie <= lastCookie)
                {
                    problems.Add($"dir {dir.Ino}: cookie {e.Cookie} of '{e.Name}' not above {lastCookie}");
                }

                lastCookie = e.Cookie;
                if (contents.LookupEntry(e.Name) != e)
                {
                    problems.Add($"dir {dir.Ino}: '{e.Name}' in cookie order but not by name");
                }
                else if (contents.Lookup(e.Name) != e.Inode)
                {
                    // Path walks take the inode from the name index, not from the entry.
                    problems.Add($"dir {dir.Ino}: '{e.Name}' indexed with another inode than its entry's");
                }
            }

            if (live != contents.Count)
            {
                problems.Add($"dir {dir.Ino}: {live} live entries in cookie order, {contents.Count} by name");
            }

            foreach (var e in contents.Entries)
            {
                var child = e.Inode;
                if (!ReferenceEquals(child.Sb, sb))
                {
                    problems.Add($"dir {dir.Ino}: '{e.Name}' names inode {child.Ino} of another mount");
                    continue;
                }

                names[child] = names.GetValueOrDefault(child) + 1;
                if (child.IsDirectory)
                {
                    subdirs++;
                    if (child.Dir is null)
                    {
                        problems.Add($"dir {dir.Ino}: '{e.Name}' is a directory without contents");
                        continue;
                    }

                    if (!ReferenceEquals(child.Dir.Parent, dir))
                    {
                        problems.Add($"dir {child.Ino} ('{e.Name}' in {dir.Ino}): parent is {child.Dir.Parent.Ino}");
                    }

                    if (!reachable.Add(child))
                    {
                        problems.Add($"dir {child.Ino} is named more than once (or a cycle) at '{e.Name}' in {dir.Ino}");
                        continue;
                    }

                    queue.Enqueue(child);
                }
                else
                {
                    reachable.Add(child);
                }
            }

            if (dir.Nlink != 2 + subdirs)
            {
                problems.Add($"dir {dir.Ino}: nlink {dir.Nlink} != 2 + {subdirs} subdirectories");
            }

            var size = (2 + contents.Count) * Inode.BogoDirentSize;
            if (dir.Size != size)
            {
                problems.Add($"dir {dir.Ino}: size {dir.Size} != {size} for {contents.Count} entries");
            }
        }

        // Every inode, named or not.
        long alloced = 0;
        long extraLinks = 0;
        long xattrSpace = 0;
        var all = new HashSet<Inode>(inSet, ReferenceEqualityComparer.Instance);
        all.UnionWith(reachable);
        foreach (var inode in all)
        {
            var ino = inode.Ino;
            if (!inSet.Contains(inode))
            {
                problems.Add($"inode {ino} is named but not in the superblock's inode set");
            }
            else if (!ReferenceEquals(sb.FindInode(ino), inode))
            {
                problems.Add($"inode {ino} is registered under another number");
            }

            var named = reachable.Contains(inode);
            if (inode.Evicted)
            {
                // Evict frees pages and xattrs under the inode lock, then leaves the set
                // under the stat lock: an inode caught in between is on its way out.
                if (named)
                {
                    problems.Add($"inode {ino} is evicted but still named");
                }

                if (inode.Alloced != 0 || inode.Pages.Count != 0 || inode.Xattrs is not null)
                {
                    problems.Add($"inode {ino} is evicted but holds {inode.Alloced} pages or xattrs");
                }

                continue;
            }

            if (!named)
            {
                if (inode.Nlink != 0)
                {
                    problems.Add($"inode {ino} has nlink {inode.Nlink} but no name");
                }
                else if (Volatile.Read(ref inode.OpenCount) <= 0)
                {
                    problems.Add($"inode {ino} is unlinked and not open, yet not evicted");
                }
            }
            else if (!inode.IsDirectory && inode.Nlink != names.GetValueOrDefault(inode))
            {
                problems.Add($"inode {ino}: nlink {inode.Nlink} != {names.GetValueOrDefault(inode)} names");
            }

            if (!inode.IsDirectory && inode.Nlink > 1)
            {
                extraLinks += inode.Nlink - 1;
            }

            if (inode.Xattrs is { } x)
            {
                long space = 0;
                foreach (var (name, value) in x.Items)
                {
                    space += XattrList.Space(name, value.Length);
                }

                if (space != x.ChargedIspace)
                {
                    problems.Add($"inode {ino}: xattrs cost {space} but {x.ChargedIspace} is charged");
                }

                xattrSpace += x.ChargedIspace;
            }

            alloced += inode.Alloced;
            if (inode.IsSymlink)
            {
                CheckSymlink(inode, problems);
            }

            if (inode.IsRegular || inode.Pages.Count != 0)
            {
                CheckPages(inode, problems, owners);
            }
            else if (!inode.IsSymlink && inode.Alloced != 0)
            {
                problems.Add($"inode {ino} (mode {inode.Mode:x}) has {inode.Alloced} pages charged");
            }
        }

        if (alloced != sb.UsedBlocks)
        {
            problems.Add($"sum of alloced {alloced} != used blocks {sb.UsedBlocks}");
        }

        if (sb.MaxBlocks != 0 && sb.UsedBlocks > sb.MaxBlocks)
        {
            problems.Add($"used blocks {sb.UsedBlocks} exceed size= {sb.MaxBlocks}");
        }

        if (sb.MaxInodes != 0)
        {
            var expected = (Superblock.BogoInodeSize * (set.Count + extraLinks)) + xattrSpace;
            if (sb.UsedIspace != expected)
            {
                problems.Add($"used ispace {sb.UsedIspace} != 1024 * ({set.Count} inodes + {extraLinks} extra links) + {xattrSpace} xattr bytes");
            }
        }
    }

    private static void CheckSymlink(Inode inode, List<string> problems)
    {
        var target = inode.LinkTarget;
        if (target is null)
        {
            problems.Add($"symlink {inode.Ino} has no target");
            return;
        }

        var length = Encoding.UTF8.GetByteCount(target);
        if (inode.Size != length)
        {
            problems.Add($"symlink {inode.Ino}: size {inode.Size} != target length {length}");
        }

        var pages = length + 1 > 128 ? 1 : 0; // SHORT_SYMLINK_LEN
        if (inode.Alloced != pages)
        {
            problems.Add($"symlink {inode.Ino}: {inode.Alloced} pages charged for a {length}-byte target");
        }
    }

    private static void CheckPages(Inode inode, List<string> problems, Dictionary<int, Inode> owners)
    {
        var frames = inode.Sb.Frames;
        var ino = inode.Ino;
        var endIndex = (inode.Size + PageSize - 1) / PageSize;
        long entries = 0;
        long swapEntries = 0;
        var index = 0L;
        while (inode.Pages.NextPresent(index, long.MaxValue, out var found, out var entry))
        {
            entries++;
            index = found + 1;
            if (PageCacheTree.IsSwap(entry))
            {
                swapEntries++;
                var swap = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));
                var device = inode.Sb.Memory.Swap.Device(swap.Type);
                if (device is null || swap.Offset >= device.Slots)
                {
                    problems.Add($"inode {ino}: index {found} holds {swap}, which no swap device has");
                }
                else if ((device.MapOf(swap.Offset) & SwapDevice.MapEntry) == 0)
                {
                    problems.Add($"inode {ino}: index {found} holds {swap}, a slot not marked in use");
                }

                if (!inode.OnSwaplist)
                {
                    problems.Add($"inode {ino}: has pages on swap but is not on the swaplist");
                }

                continue;
            }

            var pfn = PageCacheTree.ToFrame(entry);
            if ((uint)pfn >= (uint)frames.CarvedFrames)
            {
                problems.Add($"inode {ino}: index {found} holds frame {pfn}, out of range");
                continue;
            }

            if (!owners.TryAdd(pfn, inode))
            {
                problems.Add($"frame {pfn} is in two page caches: inode {owners[pfn].Ino} and inode {ino} index {found}");
            }

            ref var page = ref frames[pfn];
            if (!ReferenceEquals(page.Mapping, inode) || page.Index != found)
            {
                var owner = page.Mapping is Inode o ? o.Ino.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
                problems.Add($"inode {ino} index {found}: frame {pfn} says mapping {owner} index {page.Index}");
            }

            if (frames.IsLocked(pfn))
            {
                problems.Add($"inode {ino} index {found}: frame {pfn} is locked while the inode lock is held");
            }

            if (frames.TestFlag(pfn, PageFlags.Uptodate))
            {
                // Past EOF only a page fallocated (KEEP_SIZE) twice is Uptodate, and it is zero:
                // shmem_get_folio(SGP_FALLOC) clears such a page when it marks it Uptodate.
                if (inode.IsRegular && found >= endIndex && frames.GetSpan(pfn).IndexOfAnyExcept((byte)0) >= 0)
                {
                    problems.Add($"inode {ino}: data page {found} past the end of the file (size {inode.Size})");
                }
            }
            else if (frames.GetSpan(pfn).IndexOfAnyExcept((byte)0) >= 0)
            {
                problems.Add($"inode {ino} index {found}: page not up to date, yet not zero");
            }
        }

        if (entries != inode.Pages.Count)
        {
            problems.Add($"inode {ino}: the page tree walks {entries} entries but counts {inode.Pages.Count}");
        }

        if (swapEntries != inode.Swapped)
        {
            problems.Add($"inode {ino}: swapped {inode.Swapped} != {swapEntries} swap entries in its page cache");
        }

        if (entries != inode.Alloced)
        {
            problems.Add($"inode {ino}: alloced {inode.Alloced} != {entries} pages in its page cache");
        }
    }

    private sealed class Quiescence(Superblock sb, List<Inode> locked) : IDisposable
    {
        public void Dispose()
        {
            for (var i = locked.Count - 1; i >= 0; i--)
            {
                Monitor.Exit(locked[i]);
            }

            sb.NamespaceLock.ExitWrite();
        }
    }
}
