using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// A mount's live inodes by number: the kernel's sb->s_inodes list and its inode hash in
/// one. Inode numbers are handed out in increasing order and never reused, so the table is
/// an array indexed by number, in chunks of 1024: registering or dropping an inode writes one
/// slot (inodes created together sit together), with no hashing.
/// </summary>
/// <remarks>
/// Memory follows the live inodes, not the numbers used: a chunk behind the newest one whose
/// live inodes fall under 1 in 16 hands them to a dictionary and goes, so a mount that keeps
/// a few files among many deleted costs a dictionary entry (about 28 bytes) for each of those
/// rather than a chunk (8 KiB) for each handful, and a dense chunk costs at most 128 bytes per
/// live inode. The newest chunk stays, so create-and-delete churn allocates nothing. What grows
/// with the numbers ever used is one reference per 1024 of them (8 MB after a billion creates).
/// Not thread-safe: the superblock's stat lock guards it.
/// </remarks>
internal sealed class InodeTable
{
    private const int ChunkShift = 10;
    private const int ChunkSize = 1 << ChunkShift;
    private const int SparseBelow = ChunkSize / 16;

    private readonly Dictionary<long, Inode> sparse = [];
    private Chunk?[] chunks = new Chunk?[4];
    private long newest = -1; // the highest chunk index used: never handed to the dictionary

    /// <summary>Inodes registered.</summary>
    public int Count { get; private set; }

    /// <summary>Chunks held (tests: churn must not keep chunks of numbers no longer live).</summary>
    public int LiveChunks => chunks.Count(c => c is not null);

    /// <summary>Inodes held in the dictionary of sparse numbers (tests).</summary>
    public int SparseCount => sparse.Count;

    /// <summary>Registers an inode under its number, which no live inode has.</summary>
    public void Add(Inode inode)
    {
        var c = ChunkOf(inode.Ino);
        if (c < newest && chunks[c] is null)
        {
            // Behind the newest chunk and already handed to the dictionary (only a number
            // given out of order, as tests do, gets here).
            sparse.Add(inode.Ino, inode);
            Count++;
            return;
        }

        if (c >= chunks.Length)
        {
            Array.Resize(ref chunks, (int)Math.Min(Array.MaxLength, Math.Max(chunks.Length * 2L, c + 1)));
        }

        if (c > newest)
        {
            // The chunk that was newest may be left with few inodes or none, and no remove
            // to come that would notice: look at it now.
            var previous = newest;
            newest = c;
            if (previous >= 0)
            {
                DemoteIfSparse((int)previous);
            }
        }

        var chunk = chunks[c] ??= new Chunk();
        var slot = (int)(inode.Ino & (ChunkSize - 1));
        Debug.Assert(chunk.Slots[slot] is null, "inode number registered twice");
        chunk.Slots[slot] = inode;
        chunk.Live++;
        Count++;
    }

    /// <summary>Drops a registered inode (nothing when it is not registered).</summary>
    public void Remove(Inode inode)
    {
        var ino = inode.Ino;
        var c = ino >> ChunkShift;
        var chunk = ino >= 0 && c < chunks.Length ? chunks[c] : null;
        if (chunk is null)
        {
            if (sparse.TryGetValue(ino, out var held) && ReferenceEquals(held, inode))
            {
                sparse.Remove(ino);
                Count--;
            }

            return;
        }

        var slot = (int)(ino & (ChunkSize - 1));
        if (!ReferenceEquals(chunk.Slots[slot], inode))
        {
            return;
        }

        chunk.Slots[slot] = null;
        chunk.Live--;
        Count--;
        if (c != newest)
        {
            DemoteIfSparse((int)c);
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

        var chunk = chunks[ino >> ChunkShift];
        return chunk is not null ? chunk.Slots[ino & (ChunkSize - 1)] : sparse.GetValueOrDefault(ino);
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

        if (sparse.Count > 0)
        {
            all.AddRange(sparse.Values);
            all.Sort((a, b) => a.Ino.CompareTo(b.Ino));
        }

        return all;
    }

    // A chunk with fewer than 1 in 16 of its slots live hands them to the dictionary and goes.
    private void DemoteIfSparse(int c)
    {
        var chunk = chunks[c];
        if (chunk is null || chunk.Live >= SparseBelow)
        {
            return;
        }

        foreach (var live in chunk.Slots)
        {
            if (live is not null)
            {
                sparse.Add(live.Ino, live);
            }
        }

        chunks[c] = null;
    }

    private static int ChunkOf(long ino)
    {
        var c = ino >> ChunkShift;
        if (ino < 0 || c >= Array.MaxLength)
        {
            throw new InvalidOperationException($"inode number {ino} beyond the table");
        }

        return (int)c;
    }

    private sealed class Chunk
    {
        public readonly Inode?[] Slots = new Inode?[ChunkSize];
        public int Live;
    }
}
