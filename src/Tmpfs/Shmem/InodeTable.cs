using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// The inodes of one mount by number (the superblock's s_inodes, plus the lookup by number a
/// FUSE node id needs). An open-addressing table of inode references probed linearly from a
/// hash of the number: 8 bytes a slot, at most three quarters full, no entry
/// objects and no separate key, where a <c>Dictionary&lt;long, Inode&gt;</c> costs 28 bytes
/// and more a file. Removal shifts the following run back, so there are no tombstones.
/// </summary>
/// <remarks>Not thread-safe: the superblock guards it with its stat lock.</remarks>
internal sealed class InodeTable
{
    private const int MinCapacity = 16;

    private Inode?[] slots = new Inode?[MinCapacity];
    private int shift = 64 - 4 + 3; // 64 - log2(capacity / 8)

    public int Count { get; private set; }

    public void Add(Inode inode)
    {
        if ((Count + 1) * 4 > slots.Length * 3)
        {
            Resize(slots.Length * 2);
        }

        var mask = slots.Length - 1;
        for (var at = Home(inode.Ino); ; at = (at + 1) & mask)
        {
            Debug.Assert(slots[at]?.Ino != inode.Ino, "inode number added twice");
            if (slots[at] is null)
            {
                slots[at] = inode;
                Count++;
                return;
            }
        }
    }

    public Inode? Find(long ino)
    {
        var mask = slots.Length - 1;
        for (var at = Home(ino); ; at = (at + 1) & mask)
        {
            var inode = slots[at];
            if (inode is null || inode.Ino == ino)
            {
                return inode;
            }
        }
    }

    /// <summary>Removes the inode registered under <paramref name="ino"/>; false when there is none.</summary>
    public bool Remove(long ino)
    {
        var mask = slots.Length - 1;
        var at = Home(ino);
        while (true)
        {
            var inode = slots[at];
            if (inode is null)
            {
                return false;
            }

            if (inode.Ino == ino)
            {
                break;
            }

            at = (at + 1) & mask;
        }

        // Backward-shift deletion: move each later member of the run whose home is not in
        // (hole, itself] into the hole, so every inode stays reachable from its home.
        var hole = at;
        for (var next = (hole + 1) & mask; slots[next] is { } moved; next = (next + 1) & mask)
        {
            var home = Home(moved.Ino);
            if (((next - home) & mask) >= ((next - hole) & mask))
            {
                slots[hole] = moved;
                hole = next;
            }
        }

        slots[hole] = null;
        Count--; // never shrinks (as a Dictionary): a mount emptied and filled again does not rehash
        return true;
    }

    public List<Inode> Snapshot()
    {
        var list = new List<Inode>(Count);
        foreach (var inode in slots)
        {
            if (inode is not null)
            {
                list.Add(inode);
            }
        }

        return list;
    }

    /// <summary>
    /// Blocks of 8 consecutive numbers (inodes made one after another) share a cache line;
    /// the blocks are spread by Fibonacci hashing, so no pattern of surviving numbers lines
    /// up long probe runs.
    /// </summary>
    private int Home(long ino) => (int)(((ulong)(ino >> 3) * 0x9E3779B97F4A7C15UL >> shift << 3) | ((ulong)ino & 7)) & (slots.Length - 1);

    private void Resize(int capacity)
    {
        var old = slots;
        slots = new Inode?[capacity];
        shift = 64 - System.Numerics.BitOperations.Log2((uint)capacity) + 3;
        var mask = capacity - 1;
        foreach (var inode in old)
        {
            if (inode is null)
            {
                continue;
            }

            var at = Home(inode.Ino);
            while (slots[at] is not null)
            {
                at = (at + 1) & mask;
            }

            slots[at] = inode;
        }
    }
}
