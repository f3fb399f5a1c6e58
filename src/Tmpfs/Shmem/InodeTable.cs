using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// A mount's live inodes by number: the kernel's sb->s_inodes list and its inode hash in
/// one. Inode numbers are handed out in increasing order and never reused, so the table is
/// an array indexed by number, in chunks: registering or dropping an inode writes one slot
/// (inodes created together sit together), with no hashing, and a chunk whose inodes are
/// all gone is released, so a mount that creates and deletes files for ever keeps only the
/// chunks of the numbers still live (and one reference per 1024 numbers ever used).
/// </summary>
/// <remarks>Not thread-safe: the superblock's stat lock guards it.</remarks>
internal sealed class InodeTable
{
    private const int ChunkShift = 10;
    private const int ChunkSize = 1 << ChunkShift;

    private Chunk?[] chunks = new Chunk?[4];

    /// <summary>Inodes registered.</summary>
    public int Count { get; private set; }

    /// <summary>Chunks held (tests: churn must not keep chunks of numbers no longer live).</summary>
    public int LiveChunks => chunks.Count(c => c is not null);

    /// <summary>Registers an inode under its number, which no live inode has.</summary>
    public void Add(Inode inode)
    {
        var (c, slot) = Split(inode.Ino);
        if (c >= chunks.Length)
        {
            Array.Resize(ref chunks, Math.Max(chunks.Length * 2, c + 1));
        }

        var chunk = chunks[c] ??= new Chunk();
        Debug.Assert(chunk.Slots[slot] is null, "inode number registered twice");
        chunk.Slots[slot] = inode;
        chunk.Live++;
        Count++;
    }

    /// <summary>Drops a registered inode; its chunk goes once it holds none.</summary>
    public void Remove(Inode inode)
    {
        var (c, slot) = Split(inode.Ino);
        var chunk = c < chunks.Length ? chunks[c] : null;
        if (chunk is null || !ReferenceEquals(chunk.Slots[slot], inode))
        {
            return;
        }

        chunk.Slots[slot] = null;
        Count--;
        if (--chunk.Live == 0)
        {
            chunks[c] = null;
        }
    }

    /// <summary>The live inode numbered <paramref name="ino"/>, or null.</summary>
    public Inode? Find(long ino)
    {
        // Any number may come in (a FUSE node id from the kernel): out of range is none.
        if (ino < 0 || (ino >> ChunkShift) >= chunks.Length)
        {
            return null;
        }

        return chunks[ino >> ChunkShift]?.Slots[ino & (ChunkSize - 1)];
    }

    /// <summary>Every registered inode, in number order.</summary>
    public List<Inode> ToList()
    {
        var all = new List<Inode>(Count);
        foreach (var chunk in chunks)
        {
            if (chunk is null)
            {
                continue;
            }

            foreach (var inode in chunk.Slots)
            {
                if (inode is not null)
                {
                    all.Add(inode);
                }
            }
        }

        return all;
    }

    private static (int Chunk, int Slot) Split(long ino)
    {
        var c = ino >> ChunkShift;
        if (c >= Array.MaxLength)
        {
            throw new InvalidOperationException($"inode number {ino} beyond the table");
        }

        return ((int)c, (int)(ino & (ChunkSize - 1)));
    }

    private sealed class Chunk
    {
        public readonly Inode?[] Slots = new Inode?[ChunkSize];
        public int Live;
    }
}
