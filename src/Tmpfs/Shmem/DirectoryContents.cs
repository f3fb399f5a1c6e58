using System.Diagnostics;

namespace Tmpfs.Shmem;

/// <summary>
/// A directory's entries, with stable readdir offsets as the kernel's simple_offset
/// (6.6+): each entry gets a cookie, increasing in creation order, that never moves,
/// so a readdir that continues from a cookie neither repeats nor skips entries that
/// stayed while others came and went. Cookies 1 and 2 are "." and "..".
/// </summary>
/// <remarks>Guarded by the superblock's namespace lock.</remarks>
internal sealed class DirectoryContents
{
    public const long FirstCookie = 3;

    private readonly Dictionary<string, DirEntry> byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DirEntry>.AlternateLookup<ReadOnlySpan<char>> bySpan;
    private readonly List<DirEntry> byCookie = []; // creation order; removed entries stay as tombstones until compacted
    private int tombstones;
    private long nextCookie = FirstCookie;

    public DirectoryContents(Inode parent)
    {
        Parent = parent;
        bySpan = byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The directory's parent (itself for the root).</summary>
    public Inode Parent { get; set; }

    public int Count => byName.Count;

    /// <summary>
    /// simple_lookup(): the entry, or null; ENAMETOOLONG for a name longer than NAME_MAX, which
    /// the kernel only reports when it looks the name up (after the search permission check).
    /// </summary>
    public Inode? Lookup(string name)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }

        return byName.TryGetValue(name, out var e) ? e.Inode : null;
    }

    /// <summary>Looks a name up without making a string of it (path walks); ENAMETOOLONG as above.</summary>
    public Inode? Lookup(ReadOnlySpan<char> name)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }

        return bySpan.TryGetValue(name, out var e) ? e.Inode : null;
    }

    /// <summary>
    /// <see cref="Lookup(ReadOnlySpan{char})"/> that gives the entry itself, for
    /// <see cref="Remove(DirEntry)"/> (unlink without a string of the name).
    /// </summary>
    public DirEntry? LookupEntry(ReadOnlySpan<char> name)
    {
        if (name.Length > PathWalk.NameMax / 3 && System.Text.Encoding.UTF8.GetByteCount(name) > PathWalk.NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "file name longer than 255 bytes");
        }

        return bySpan.TryGetValue(name, out var e) ? e : null;
    }

    public DirEntry? LookupEntry(string name) => byName.GetValueOrDefault(name);

    public void Add(string name, Inode inode)
    {
        var entry = new DirEntry(name, inode, nextCookie++);
        byName.Add(name, entry);
        byCookie.Add(entry);
    }

    public Inode Remove(string name)
    {
        var found = byName.TryGetValue(name, out var entry);
        Debug.Assert(found && entry is not null, "removing a missing entry");
        return Remove(entry);
    }

    /// <summary>Removes an entry that a lookup gave (the directory unchanged since).</summary>
    public Inode Remove(DirEntry entry)
    {
        var found = byName.Remove(entry.Name);
        Debug.Assert(found, "removing a missing entry");
        Debug.Assert(IsIndexed(entry), "cookie index out of step"); // the search runs in Debug builds only
        entry.Removed = true;
        tombstones++;
        if (tombstones > 32 && tombstones * 2 > byCookie.Count)
        {
            byCookie.RemoveAll(static e => e.Removed);
            tombstones = 0;
        }

        return entry.Inode;
    }

    /// <summary>Replaces the inode a name refers to, keeping the entry's cookie (rename over).</summary>
    public void Replace(string name, Inode inode) => byName[name].Inode = inode;

    /// <summary>The first live entry whose cookie is at least <paramref name="cookie"/>, by position.</summary>
    public int SeekPosition(long cookie)
    {
        int lo = 0, hi = byCookie.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (byCookie[mid].Cookie < cookie)
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

    public int PositionCount => byCookie.Count;

    public DirEntry? EntryAt(int position) => byCookie[position] is { Removed: false } e ? e : null;

    public IEnumerable<DirEntry> Entries => byName.Values;

    private bool IsIndexed(DirEntry entry)
    {
        var at = SeekPosition(entry.Cookie);
        return at < byCookie.Count && ReferenceEquals(byCookie[at], entry);
    }
}

/// <summary>A name in a directory (the kernel's dentry, minus the cache).</summary>
internal sealed class DirEntry(string name, Inode inode, long cookie)
{
    public string Name { get; } = name;

    public Inode Inode { get; set; } = inode;

    public long Cookie { get; } = cookie;

    /// <summary>Removed from the directory; kept only as a tombstone in the cookie order.</summary>
    public bool Removed { get; set; }
}
