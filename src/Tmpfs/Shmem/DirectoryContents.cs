using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// A directory's entries, with stable readdir offsets as the kernel's simple_offset
/// (6.6+): each entry gets a cookie, increasing in creation order, that never moves,
/// so a readdir that continues from a cookie neither repeats nor skips entries that
/// stayed while others came and went. Cookies 1 and 2 are "." and "..".
/// </summary>
/// <remarks>
/// Guarded by the superblock's namespace lock.
/// <para>
/// One array of entry structs in cookie order serves both orders: readdir binary-searches
/// it by cookie, and a name lookup follows a hash chain of indices into it (the kernel's
/// maple tree of offsets and dcache hash, folded into one structure). No object per entry:
/// a name costs its string and 32 bytes here, where a dictionary, a list and an entry
/// object cost about 84. Removed entries stay as tombstones (no inode) until more than
/// half the array is tombstones; the compaction then renumbers positions (never cookies)
/// and rebuilds the chains, under the write lock, so readers that seek by cookie see it whole.
/// </para>
/// </remarks>
internal sealed class DirectoryContents
{
    public const long FirstCookie = 3;

    private const int MinCapacity = 4;

    private Slot[] slots = [];
    private int[] buckets = []; // index + 1 of a chain's first slot; 0 = empty
    private int used; // slots in use, tombstones included (the positions)
    private int count; // live entries
    private long nextCookie = FirstCookie;

    public DirectoryContents(Inode parent) => Parent = parent;

    /// <summary>The directory's parent (itself for the root).</summary>
    public Inode Parent { get; set; }

    public int Count => count;

    public int PositionCount => used;

    /// <summary>
    /// simple_lookup(): the entry, or null; ENAMETOOLONG for a name longer than NAME_MAX, which
    /// the kernel only reports when it looks the name up (after the search permission check).
    /// </summary>
    public Inode? Lookup(string name) => Lookup(name.AsSpan());

    /// <summary>Looks a name up without making a string of it (path walks); ENAMETOOLONG as above.</summary>
    public Inode? Lookup(ReadOnlySpan<char> name)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }

        var at = Find(name, string.GetHashCode(name));
        return at < 0 ? null : slots[at].Inode;
    }

    /// <summary>
    /// <see cref="Lookup(ReadOnlySpan{char})"/> that also gives the entry's slot (for
    /// <see cref="RemoveAt"/>) and the name's hash (for <see cref="Add(string, Inode, int)"/>),
    /// so that a lookup followed by a change hashes the name once.
    /// </summary>
    public Inode? Lookup(ReadOnlySpan<char> name, out int slot, out int hash)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }

        hash = string.GetHashCode(name);
        slot = Find(name, hash);
        return slot < 0 ? null : slots[slot].Inode;
    }

    /// <summary>The live entry of a name, or null (fsck).</summary>
    public DirEntry? LookupEntry(string name)
    {
        var at = Find(name, string.GetHashCode(name));
        return at < 0 ? null : slots[at].ToEntry();
    }

    public void Add(string name, Inode inode) => Add(name, inode, string.GetHashCode(name));

    /// <summary>Adds a name whose hash <see cref="Lookup(ReadOnlySpan{char}, out int, out int)"/> gave.</summary>
    public void Add(string name, Inode inode, int hash)
    {
        Debug.Assert(hash == string.GetHashCode(name), "hash of another name");
        Debug.Assert(Find(name, hash) < 0, "adding a name twice");
        if (used == slots.Length)
        {
            Grow();
        }

        var at = used++;
        ref var bucket = ref buckets[hash & (buckets.Length - 1)];
        slots[at] = new Slot { Name = name, Inode = inode, Cookie = nextCookie++, Hash = hash, Next = bucket };
        bucket = at + 1;
        count++;
    }

    public Inode Remove(string name)
    {
        var at = Find(name, string.GetHashCode(name));
        if (at < 0)
        {
            Debug.Fail("removing a missing entry");
            return TmpfsException.Throw<Inode>(Errno.ENOENT, "no such entry");
        }

        return RemoveAt(at);
    }

    /// <summary>Removes the entry in a slot that a lookup gave (the structure unchanged since).</summary>
    public Inode RemoveAt(int slot)
    {
        ref var entry = ref slots[slot];
        var inode = entry.Inode!;
        ref var link = ref buckets[entry.Hash & (buckets.Length - 1)];
        while (link != slot + 1)
        {
            Debug.Assert(link != 0, "slot not in its chain");
            link = ref slots[link - 1].Next;
        }

        link = entry.Next; // unchained; the slot stays in cookie order as a tombstone
        entry = new Slot { Cookie = entry.Cookie };
        count--;
        var tombstones = used - count;
        if (tombstones > 32 && tombstones * 2 > used)
        {
            Compact();
        }

        return inode;
    }

    /// <summary>Replaces the inode a name refers to, keeping the entry's cookie (rename over).</summary>
    public void Replace(string name, Inode inode)
    {
        var at = Find(name, string.GetHashCode(name));
        Debug.Assert(at >= 0, "replacing a missing entry");
        slots[at].Inode = inode;
    }

    /// <summary>The first position whose cookie is at least <paramref name="cookie"/> (tombstones included).</summary>
    public int SeekPosition(long cookie)
    {
        int lo = 0, hi = used;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (slots[mid].Cookie < cookie)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The live entry at a position, or null for a tombstone.</summary>
    public DirEntry? EntryAt(int position) => slots[position].Inode is null ? null : slots[position].ToEntry();

    /// <summary>The live entries, in cookie order.</summary>
    public IEnumerable<DirEntry> Entries
    {
        get
        {
            for (var at = 0; at < used; at++)
            {
                if (slots[at].Inode is not null)
                {
                    yield return slots[at].ToEntry();
                }
            }
        }
    }

    private int Find(ReadOnlySpan<char> name, int hash)
    {
        if (buckets.Length == 0)
        {
            return -1;
        }

        for (var link = buckets[hash & (buckets.Length - 1)]; link != 0;)
        {
            ref readonly var slot = ref slots[link - 1];
            if (slot.Hash == hash && name.SequenceEqual(slot.Name))
            {
                return link - 1;
            }

            link = slot.Next;
        }

        return -1;
    }

    /// <summary>Room for more slots: drops tombstones if they are many, else doubles.</summary>
    private void Grow()
    {
        if ((used - count) * 4 > used)
        {
            Compact();
            return;
        }

        var capacity = Math.Max(MinCapacity, slots.Length * 2);
        Array.Resize(ref slots, capacity);
        Rehash(capacity);
    }

    /// <summary>Squeezes the tombstones out (positions change, cookies do not) and rebuilds the chains.</summary>
    private void Compact()
    {
        var to = 0;
        for (var from = 0; from < used; from++)
        {
            if (slots[from].Inode is not null)
            {
                slots[to++] = slots[from];
            }
        }

        Array.Clear(slots, to, used - to);
        used = to;
        Debug.Assert(used == count, "live count out of step");
        if (slots.Length > MinCapacity && used * 4 < slots.Length)
        {
            Array.Resize(ref slots, Math.Max(MinCapacity, slots.Length / 2));
        }

        Rehash(slots.Length);
    }

    /// <summary>One bucket per slot of capacity (a power of two), chains rebuilt from the live slots.</summary>
    private void Rehash(int capacity)
    {
        if (buckets.Length != capacity)
        {
            buckets = new int[capacity];
        }
        else
        {
            Array.Clear(buckets);
        }

        for (var at = 0; at < used; at++)
        {
            ref var slot = ref slots[at];
            if (slot.Inode is null)
            {
                continue;
            }

            ref var bucket = ref buckets[slot.Hash & (capacity - 1)];
            slot.Next = bucket;
            bucket = at + 1;
        }
    }

    /// <summary>One name in cookie order; a tombstone has no inode.</summary>
    private struct Slot
    {
        public string? Name;
        public Inode? Inode;
        public long Cookie;
        public int Hash;
        public int Next; // index + 1 of the next slot in the hash chain; 0 = end

        public readonly DirEntry ToEntry() => new(Name!, Inode!, Cookie);
    }
}

/// <summary>A name in a directory (the kernel's dentry, minus the cache), as read out of it.</summary>
internal readonly record struct DirEntry(string Name, Inode Inode, long Cookie);
