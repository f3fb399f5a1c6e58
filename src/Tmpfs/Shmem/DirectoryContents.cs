using System.Diagnostics;
using System.Runtime.InteropServices;

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
/// An array of entry structs in cookie order, which readdir binary-searches by cookie, and a
/// dictionary from name to the inode and its position in it (the kernel's maple tree of offsets
/// and dcache hash; a lookup reads the inode from the dictionary's entry alone).
/// No object per entry, so a create allocates only the name: each entry object was 48 bytes
/// of garbage-collected memory to clear and fault in. The dictionary keeps .NET's string
/// hashing (fast, falling back to a randomized hash when names collide: they come from
/// unprivileged callers). Removed entries stay as tombstones (no inode), those at the ends
/// dropped at once, the others until more than half the array between the ends is tombstones;
/// the compaction then renumbers positions (never cookies), under
/// the write lock, so readers that seek by cookie see it whole.
/// </para>
/// </remarks>
internal sealed class DirectoryContents
{
    public const long FirstCookie = 3;

    private const int MinCapacity = 4;

    private readonly Dictionary<string, Indexed> byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Indexed>.AlternateLookup<ReadOnlySpan<char>> bySpan;
    private Slot[] slots = [];
    private int used; // slots in use, tombstones included (the positions)
    private int head; // the slots before it are all tombstones
    private long nextCookie = FirstCookie;

    public DirectoryContents(Inode parent)
    {
        Parent = parent;
        bySpan = byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The directory's parent (itself for the root).</summary>
    public Inode Parent { get; set; }

    public int Count => byName.Count;

    public int PositionCount => used;

    /// <summary>
    /// simple_lookup(): the entry, or null; ENAMETOOLONG for a name longer than NAME_MAX, which
    /// the kernel only reports when it looks the name up (after the search permission check).
    /// </summary>
    public Inode? Lookup(string name) => Lookup(name.AsSpan(), out _);

    /// <summary>Looks a name up without making a string of it (path walks); ENAMETOOLONG as above.</summary>
    public Inode? Lookup(ReadOnlySpan<char> name) => Lookup(name, out _);

    /// <summary>
    /// <see cref="Lookup(ReadOnlySpan{char})"/> that also gives the entry's position, for
    /// <see cref="RemoveAt"/> while nothing else changes the directory.
    /// </summary>
    public Inode? Lookup(ReadOnlySpan<char> name, out int position)
    {
        CheckNameLength(name);

        if (!bySpan.TryGetValue(name, out var found))
        {
            position = -1;
            return null;
        }

        position = found.Position;
        return found.Inode;
    }

    /// <summary>
    /// A create's lookup and insert with one hash of the name (simple_lookup, then d_add): the
    /// entry of <paramref name="name"/> when there is one, else null and the name reserved,
    /// which the caller completes with <see cref="AddReserved"/> (through the returned
    /// reference) or drops with <see cref="Unreserve"/> before anything else changes the
    /// directory. Namespace lock held for writing throughout; ENAMETOOLONG as a lookup.
    /// </summary>
    public ref Indexed LookupOrReserve(string name, out Inode? existing)
    {
        CheckNameLength(name);

        if (used == slots.Length)
        {
            Grow(); // now, so that completing the reservation never moves positions
        }

        ref var at = ref CollectionsMarshal.GetValueRefOrAddDefault(byName, name, out var exists);
        if (exists)
        {
            existing = at.Inode;
            return ref at;
        }

        existing = null;
        at = new Indexed(null, -1);
        return ref at;
    }

    /// <summary>Completes a <see cref="LookupOrReserve"/> that found nothing: the entry, after every other one in cookie order.</summary>
    public void AddReserved(ref Indexed reserved, string name, Inode inode)
    {
        Debug.Assert(reserved.Position == -1 && used < slots.Length, "not a reservation, or no room kept for it");
        reserved = new Indexed(inode, used);
        slots[used++] = new Slot { Name = name, Inode = inode, Cookie = nextCookie++ };
    }

    /// <summary>Drops a <see cref="LookupOrReserve"/> reservation (the create failed).</summary>
    public void Unreserve(string name)
    {
        var removed = byName.Remove(name, out var at);
        Debug.Assert(removed && at.Position == -1, "not a reservation");
    }

    /// <summary>The live entry of a name, or null (fsck).</summary>
    public DirEntry? LookupEntry(string name) => byName.TryGetValue(name, out var at) ? slots[at.Position].ToEntry() : null;

    public void Add(string name, Inode inode)
    {
        if (used == slots.Length)
        {
            Grow();
        }

        byName.Add(name, new Indexed(inode, used));
        slots[used++] = new Slot { Name = name, Inode = inode, Cookie = nextCookie++ };
    }

    public Inode Remove(string name)
    {
        if (!byName.TryGetValue(name, out var at))
        {
            Debug.Fail("removing a missing entry");
            return TmpfsException.Throw<Inode>(Errno.ENOENT, "no such entry");
        }

        return RemoveAt(at.Position);
    }

    /// <summary>Removes the entry at a position that a lookup gave (the directory unchanged since).</summary>
    public Inode RemoveAt(int position)
    {
        var removed = byName.Remove(slots[position].Name!);
        Debug.Assert(removed, "entry not indexed by name");
        return RemoveDetached(position);
    }

    /// <summary>
    /// An unlink's lookup with one hash of the name: the entry's inode, or null, with the name
    /// already out of the index. The caller then either completes the removal with
    /// <see cref="RemoveDetached"/> or, when a check refuses it, puts the name back with
    /// <see cref="Reattach"/>, before anything else changes the directory (namespace lock
    /// held for writing throughout). ENAMETOOLONG as a lookup.
    /// </summary>
    public Inode? Detach(ReadOnlySpan<char> name, out int position)
    {
        CheckNameLength(name);

        if (!bySpan.Remove(name, out _, out var found))
        {
            position = -1;
            return null;
        }

        position = found.Position;
        return found.Inode;
    }

    /// <summary>Undoes a <see cref="Detach"/> that found an entry: the name indexes its slot again.</summary>
    public void Reattach(int position) => byName.Add(slots[position].Name!, new Indexed(slots[position].Inode, position));

    /// <summary>Completes a <see cref="Detach"/>: the slot becomes a tombstone.</summary>
    public Inode RemoveDetached(int position)
    {
        ref var entry = ref slots[position];
        var inode = entry.Inode!;
        entry = new Slot { Cookie = entry.Cookie }; // a tombstone keeps its place in cookie order

        // Tombstones at either end cost nothing to skip: names removed oldest first (or newest
        // first) move the ends instead of being compacted, which rehashed every name that
        // stayed. A directory emptied this way starts its array over (cookies still grow).
        if (position == head)
        {
            while (head < used && slots[head].Inode is null)
            {
                head++;
            }
        }

        if (position == used - 1)
        {
            while (used > head && slots[used - 1].Inode is null)
            {
                used--;
            }
        }

        if (head == used)
        {
            head = used = 0;
        }

        var tombstones = used - head - byName.Count;
        if (tombstones > 32 && tombstones * 2 > used - head)
        {
            Compact();
        }

        return inode;
    }

    /// <summary>Replaces the inode a name refers to, keeping the entry's cookie (rename over).</summary>
    public void Replace(string name, Inode inode)
    {
        ref var at = ref CollectionsMarshal.GetValueRefOrNullRef(byName, name);
        at = new Indexed(inode, at.Position);
        slots[at.Position].Inode = inode;
    }

    /// <summary>The first position whose cookie is at least <paramref name="cookie"/> (tombstones included).</summary>
    public int SeekPosition(long cookie)
    {
        int lo = head, hi = used; // slots before head are all tombstones
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
            for (var at = head; at < used; at++)
            {
                if (slots[at].Inode is not null)
                {
                    yield return slots[at].ToEntry();
                }
            }
        }
    }

    // simple_lookup's ENAMETOOLONG: reported at lookup, after the search permission check.
    private static void CheckNameLength(ReadOnlySpan<char> name)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }
    }

    /// <summary>Room for more slots: drops tombstones if they are many, else doubles.</summary>
    private void Grow()
    {
        if ((used - byName.Count) * 4 > used)
        {
            Compact();
            return;
        }

        Array.Resize(ref slots, Math.Max(MinCapacity, slots.Length * 2));
    }

    /// <summary>Squeezes the tombstones out (positions change, cookies do not) and re-points the names.</summary>
    private void Compact()
    {
        var to = 0;
        for (var from = 0; from < used; from++)
        {
            if (slots[from].Inode is null)
            {
                continue;
            }

            if (to != from)
            {
                slots[to] = slots[from];
                CollectionsMarshal.GetValueRefOrNullRef(byName, slots[to].Name!) = new Indexed(slots[to].Inode, to);
            }

            to++;
        }

        Array.Clear(slots, to, used - to);
        used = to;
        head = 0;
        Debug.Assert(used == byName.Count, "live count out of step");
    }

    /// <summary>
    /// A name's value in the index: its inode beside its position, so that a lookup (every
    /// path walk) reads the inode without touching the slot array, one cache miss fewer.
    /// </summary>
    internal readonly record struct Indexed(Inode? Inode, int Position);

    /// <summary>One name in cookie order; a tombstone has no inode.</summary>
    private struct Slot
    {
        public string? Name;
        public Inode? Inode;
        public long Cookie;

        public readonly DirEntry ToEntry() => new(Name!, Inode!, Cookie);
    }
}

/// <summary>A name in a directory (the kernel's dentry, minus the cache), as read out of it.</summary>
internal readonly record struct DirEntry(string Name, Inode Inode, long Cookie);
