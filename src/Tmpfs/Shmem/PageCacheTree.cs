using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// A mapping's page cache, index -> entry, as the kernel's xarray: a radix tree of
/// 64-slot nodes whose height grows with the largest index. An entry is 0 for a hole,
/// positive for a resident frame (pfn + 1) and negative for a swap entry (~swap), the
/// way an xarray slot holds a folio pointer or a value entry. Holes cost nothing: a
/// sparse 8 EiB file with one page holds one path of nodes.
/// </summary>
/// <remarks>Not thread-safe: callers hold the mapping lock or the inode lock.</remarks>
internal struct PageCacheTree
{
    private const int Shift = 6;
    private const int Fanout = 1 << Shift;
    private const int Mask = Fanout - 1;

    private Node? root;
    private int height; // levels below and including the root; 0 = empty

    /// <summary>Number of non-hole entries.</summary>
    public long Count { get; private set; }

    public static long FrameEntry(int pfn) => (long)pfn + 1;

    public static long SwapEntry(long swap) => ~swap;

    public static bool IsFrame(long entry) => entry > 0;

    public static bool IsSwap(long entry) => entry < 0;

    public static int ToFrame(long entry) => (int)(entry - 1);

    public static long ToSwap(long entry) => ~entry;

    public readonly long Get(long index)
    {
        if (root is null || !Covers(index, height))
        {
            return 0;
        }

        var node = root;
        for (var level = height - 1; level > 0; level--)
        {
            node = node.Children![(int)((index >> (level * Shift)) & Mask)];
            if (node is null)
            {
                return 0;
            }
        }

        return node.Slots![(int)(index & Mask)];
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
            height = 1;
            while (!Covers(index, height))
            {
                height++;
            }

            root = NewNode(height);
        }

        while (!Covers(index, height))
        {
            // Grow upwards: the old root becomes child 0 of a new root.
            var up = NewNode(height + 1);
            up.Children![0] = root;
            up.Used = 1;
            root = up;
            height++;
        }

        var node = root;
        for (var level = height - 1; level > 0; level--)
        {
            var slot = (int)((index >> (level * Shift)) & Mask);
            var child = node.Children![slot];
            if (child is null)
            {
                child = NewNode(level);
                node.Children[slot] = child;
                node.Used++;
            }

            node = child;
        }

        var leafSlot = (int)(index & Mask);
        var old = node.Slots![leafSlot];
        node.Slots[leafSlot] = entry;
        if (old == 0)
        {
            node.Used++;
            Count++;
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
        if (root is null || from >= to)
        {
            return false;
        }

        var limit = Capacity(height);
        if (from >= limit)
        {
            return false;
        }

        return Find(root, height, 0, Math.Max(from, 0), Math.Min(to, limit), out index, out entry);
    }

    /// <summary>Drops every node: used after the entries have been released one by one.</summary>
    public void Clear()
    {
        root = null;
        height = 0;
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
                var value = node.Slots![slot];
                if (value != 0)
                {
                    index = start;
                    entry = value;
                    return true;
                }
            }
            else
            {
                var child = node.Children![slot];
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
        if (root is null || !Covers(index, height))
        {
            return 0;
        }

        var old = EraseIn(root, height, index);
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
            var old = node.Slots![slot];
            if (old != 0)
            {
                node.Slots[slot] = 0;
                node.Used--;
            }

            return old;
        }

        var child = node.Children![slot];
        if (child is null)
        {
            return 0;
        }

        var erased = EraseIn(child, level - 1, index);
        if (erased != 0 && child.Used == 0)
        {
            node.Children[slot] = null;
            node.Used--;
        }

        return erased;
    }

    private static long Capacity(int levels) => levels * Shift >= 63 ? long.MaxValue : 1L << (levels * Shift);

    private static bool Covers(long index, int levels) => index < Capacity(levels);

    private static Node NewNode(int level) => level == 1
        ? new Node { Slots = new long[Fanout] }
        : new Node { Children = new Node?[Fanout] };

    private sealed class Node
    {
        public long[]? Slots;
        public Node?[]? Children;
        public int Used;
    }
}
