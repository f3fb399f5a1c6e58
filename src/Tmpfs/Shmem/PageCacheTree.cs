using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Tmpfs.Shmem;

/// <summary>
/// A mapping's page cache, index -> entry, as the kernel's xarray: a radix tree of
/// 64-slot nodes whose height grows with the largest index. An entry is 0 for a hole,
/// positive for a resident frame (pfn + 1) and negative for a swap entry (~swap), the
/// way an xarray slot holds a folio pointer or a value entry. Holes cost nothing: a
/// sparse 8 EiB file with one page holds one path of nodes. As in the xarray, a lone
/// entry at index 0 lives in the head itself (no node for a one-page file); nodes are
/// built when a second index appears. A leaf holds its 64 slots inline (one object).
/// </summary>
/// <remarks>
/// Changed under the mapping lock with the inode lock held, or (an entry replaced by another,
/// frame and swap entry alike, which changes no node) under the mapping lock alone. So under
/// the inode lock the tree's shape is fixed and only reclaim changes entries (frame to swap
/// entry, and back when the swap write fails), each one 8-byte store:
/// <c>PageCache.Read</c> looks entries up there without the mapping lock (as the kernel's
/// filemap_get_read_batch under RCU), which is why an entry is stored with release semantics,
/// after the frame's data it names.
/// </remarks>
internal struct PageCacheTree
{
    private const int Shift = 6;
    private const int Fanout = 1 << Shift;
    private const int Mask = Fanout - 1;

    private Node? root; // knows its level: the tree keeps no height of its own (8 bytes less per inode)
    private long head; // the entry at index 0 while there are no nodes (xa_head holding an entry)

    /// <summary>Number of non-hole entries.</summary>
    public long Count { get; private set; }

    // Levels below and including the root; 0 = no nodes.
    private readonly int Height => root?.Level ?? 0;

    public static long FrameEntry(int pfn) => (long)pfn + 1;

    public static long SwapEntry(long swap) => ~swap;

    public static bool IsFrame(long entry) => entry > 0;

    public static bool IsSwap(long entry) => entry < 0;

    public static int ToFrame(long entry) => (int)(entry - 1);

    public static long ToSwap(long entry) => ~entry;

    public readonly long Get(long index)
    {
        if (root is null)
        {
            return index == 0 ? head : 0;
        }

        var leaf = FindLeaf(index);
        return leaf is null ? 0 : leaf.Slots[(int)(index & Mask)];
    }

    /// <summary>
    /// Gang lookup: the entries at <paramref name="index"/> and the indices after it, up to
    /// <paramref name="entries"/>.Length and the end of the 64-slot leaf holding
    /// <paramref name="index"/>, with one walk of the tree. Returns how many were filled
    /// (holes are 0); at least one for a non-empty span.
    /// </summary>
    public readonly int GetRange(long index, Span<long> entries)
    {
        var n = Math.Min(entries.Length, Fanout - (int)(index & Mask));
        if (root is null)
        {
            entries[..n].Clear();
            if (index == 0 && n > 0)
            {
                entries[0] = head;
            }

            return n;
        }

        var leaf = FindLeaf(index);
        if (leaf is null)
        {
            entries[..n].Clear();
        }
        else
        {
            ((ReadOnlySpan<long>)leaf.Slots).Slice((int)(index & Mask), n).CopyTo(entries);
        }

        return n;
    }

    /// <summary>
    /// <see cref="GetRange"/> for a caller without the mapping lock (it holds the inode lock,
    /// so the shape is fixed): each entry read once, whole (the kernel's READ_ONCE of a slot).
    /// </summary>
    public readonly int LoadRange(long index, Span<long> entries)
    {
        var n = Math.Min(entries.Length, Fanout - (int)(index & Mask));
        if (root is null)
        {
            entries[..n].Clear();
            if (index == 0 && n > 0)
            {
                entries[0] = Volatile.Read(in head);
            }

            return n;
        }

        var leaf = FindLeaf(index);
        if (leaf is null)
        {
            entries[..n].Clear();
            return n;
        }

        var first = (int)(index & Mask);
        for (var i = 0; i < n; i++)
        {
            entries[i] = Volatile.Read(in leaf.Slots[first + i]);
        }

        return n;
    }

    private readonly Leaf? FindLeaf(long index)
    {
        if (!Covers(index, Height))
        {
            return null;
        }

        var node = root!;
        for (var level = Height - 1; level > 0; level--)
        {
            node = Unsafe.As<Interior>(node).Children[(int)((index >> (level * Shift)) & Mask)];
            if (node is null)
            {
                return null;
            }
        }

        return Unsafe.As<Leaf>(node);
    }

    /// <summary>Stores an entry (0 erases) and returns the one it replaced.</summary>
    public long Set(long index, long entry)
    {
        Debug.Assert(index >= 0, "negative page index");
        if (entry == 0)
        {
            return Erase(index);
        }

        if (root is null)
        {
            if (index == 0)
            {
                var was = head;
                Volatile.Write(ref head, entry);
                if (was == 0)
                {
                    Count++;
                }

                return was;
            }

            // A second index: build the nodes, and move a head entry into them.
            var levels = 1;
            while (!Covers(index, levels))
            {
                levels++;
            }

            root = NewNode(levels);
            if (head != 0)
            {
                try
                {
                    SetInNodes(0, head);
                }
                catch
                {
                    root = null; // a node could not be allocated: the head entry stays where it was
                    throw;
                }

                head = 0;
            }
        }

        while (!Covers(index, Height))
        {
            // Grow upwards: the old root becomes child 0 of a new root.
            var up = (Interior)NewNode(Height + 1);
            up.Children[0] = root;
            up.Used = 1;
            root = up;
        }

        var old = SetInNodes(index, entry);
        if (old == 0)
        {
            Count++;
        }

        return old;
    }

    private readonly long SetInNodes(long index, long entry)
    {
        var node = root!;
        for (var level = Height - 1; level > 0; level--)
        {
            var interior = Unsafe.As<Interior>(node);
            var slot = (int)((index >> (level * Shift)) & Mask);
            var child = interior.Children[slot];
            if (child is null)
            {
                child = NewNode(level);
                interior.Children[slot] = child;
                interior.Used++;
            }

            node = child;
        }

        var leaf = Unsafe.As<Leaf>(node);
        var leafSlot = (int)(index & Mask);
        var old = leaf.Slots[leafSlot];
        Volatile.Write(ref leaf.Slots[leafSlot], entry);
        if (old == 0)
        {
            leaf.Used++;
        }

        return old;
    }

    /// <summary>
    /// The first non-hole entry at an index in [from, to), or false. Skips empty
    /// subtrees, so a walk over a sparse file costs its populated nodes only.
    /// </summary>
    public readonly bool NextPresent(long from, long to, out long index, out long entry)
    {
        index = 0;
        entry = 0;
        if (from >= to)
        {
            return false;
        }

        if (root is null)
        {
            if (head != 0 && from <= 0 && to > 0)
            {
                entry = head;
                return true;
            }

            return false;
        }

        var limit = Capacity(Height);
        if (from >= limit)
        {
            return false;
        }

        return Find(root, Height, 0, Math.Max(from, 0), Math.Min(to, limit), out index, out entry);
    }

    /// <summary>Drops every node: used after the entries have been released one by one.</summary>
    public void Clear()
    {
        root = null;
        head = 0;
        Count = 0;
    }

    private static bool Find(Node node, int level, long baseIndex, long from, long to, out long index, out long entry)
    {
        var span = 1L << ((level - 1) * Shift);
        var first = (int)((from - baseIndex) / span);
        for (var slot = first; slot < Fanout; slot++)
        {
            var start = baseIndex + (slot * span);
            if (start >= to)
            {
                break;
            }

            if (level == 1)
            {
                var value = Unsafe.As<Leaf>(node).Slots[slot];
                if (value != 0)
                {
                    index = start;
                    entry = value;
                    return true;
                }
            }
            else
            {
                var child = Unsafe.As<Interior>(node).Children[slot];
                if (child is not null && Find(child, level - 1, start, Math.Max(from, start), to, out index, out entry))
                {
                    return true;
                }
            }
        }

        index = 0;
        entry = 0;
        return false;
    }

    private long Erase(long index)
    {
        if (root is null)
        {
            if (index != 0 || head == 0)
            {
                return 0;
            }

            var was = head;
            head = 0;
            Count--;
            return was;
        }

        if (!Covers(index, Height))
        {
            return 0;
        }

        var old = EraseIn(root, Height, index);
        if (old != 0)
        {
            Count--;
            if (root.Used == 0)
            {
                Clear();
            }
        }

        return old;
    }

    // Recursive so that emptied nodes are unlinked on the way up without a path array.
    private static long EraseIn(Node node, int level, long index)
    {
        var slot = (int)((index >> ((level - 1) * Shift)) & Mask);
        if (level == 1)
        {
            var leaf = Unsafe.As<Leaf>(node);
            var old = leaf.Slots[slot];
            if (old != 0)
            {
                leaf.Slots[slot] = 0;
                leaf.Used--;
            }

            return old;
        }

        var interior = Unsafe.As<Interior>(node);
        var child = interior.Children[slot];
        if (child is null)
        {
            return 0;
        }

        var erased = EraseIn(child, level - 1, index);
        if (erased != 0 && child.Used == 0)
        {
            interior.Children[slot] = null;
            interior.Used--;
        }

        return erased;
    }

    private static long Capacity(int levels) => levels * Shift >= 63 ? long.MaxValue : 1L << (levels * Shift);

    private static bool Covers(long index, int levels) => index < Capacity(levels);

    private static Node NewNode(int level) => level == 1 ? new Leaf { Level = 1 } : new Interior { Level = level };

    private abstract class Node
    {
        public int Used;
        public int Level; // 1 for a leaf; in the 4 bytes the object aligns away after Used
    }

    /// <summary>A bottom node: 64 entries inline, one object of 536 bytes.</summary>
    private sealed class Leaf : Node
    {
        public LeafSlots Slots;
    }

    private sealed class Interior : Node
    {
        public InteriorSlots Children;
    }

    [InlineArray(Fanout)]
    private struct LeafSlots
    {
        private long element;
    }

    [InlineArray(Fanout)]
    private struct InteriorSlots
    {
        private Node? element;
    }
}
