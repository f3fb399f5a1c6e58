using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// An open directory. <see cref="Read"/> continues from a cookie: 0 starts with ".",
/// each entry's <see cref="DirectoryEntry.NextCookie"/> continues after it, and a cookie
/// stays valid while the directory changes (entries added later appear, removed ones
/// do not, and none repeats).
/// </summary>
public sealed class DirectoryHandle : IDisposable
{
    private readonly FileSystem fs;
    private int closed;

    internal DirectoryHandle(FileSystem fs, Inode inode)
    {
        this.fs = fs;
        Inode = inode;
        Interlocked.Increment(ref inode.OpenCount);
        Interlocked.Increment(ref fs.Superblock.OpenHandles);
    }

    public long Ino => Inode.Ino;

    internal Inode Inode { get; }

    /// <summary>Up to <paramref name="max"/> entries from <paramref name="cookie"/> on, "." and ".." included.</summary>
    public IReadOnlyList<DirectoryEntry> Read(long cookie, int max)
    {
        var result = new List<DirectoryEntry>();
        if (max > 0)
        {
            Visit(cookie, (in DirectoryEntry e, in StatInfo _) =>
            {
                result.Add(e);
                return result.Count < max;
            }, withAttributes: false, addLookup: false);
        }

        return result;
    }

    /// <summary>
    /// Hands the entries from <paramref name="cookie"/> on to <paramref name="visitor"/> until it
    /// returns false (the entry it refused is not consumed) or the directory ends. With
    /// <paramref name="withAttributes"/> each entry comes with its inode's attributes, and with
    /// <paramref name="addLookup"/> each accepted entry other than "." and ".." takes a lookup
    /// reference (FUSE READDIRPLUS), all under the namespace lock so no entry can vanish
    /// between being listed and being counted. Returns the number of entries accepted.
    /// </summary>
    internal int Visit(long cookie, DirectoryVisitor visitor, bool withAttributes, bool addLookup)
    {
        if (Volatile.Read(ref closed) != 0)
        {
            TmpfsException.Throw(Errno.EBADF, "the handle is closed");
        }

        var accepted = 0;
        var sb = Inode.Sb;
        sb.NamespaceLock.EnterRead();
        try
        {
            var dir = Inode.Dir!;
            if (cookie <= 0)
            {
                if (!Offer(visitor, new DirectoryEntry(".", Inode.Ino, FileModes.Directory, 1), Inode, withAttributes, addLookup: false))
                {
                    return accepted;
                }

                accepted++;
            }

            if (cookie <= 1)
            {
                if (!Offer(visitor, new DirectoryEntry("..", dir.Parent.Ino, FileModes.Directory, 2), dir.Parent, withAttributes, addLookup: false))
                {
                    return accepted;
                }

                accepted++;
            }

            if (Inode.Nlink > 0)
            {
                for (var at = dir.SeekPosition(Math.Max(cookie, DirectoryContents.FirstCookie)); at < dir.PositionCount; at++)
                {
                    if (dir.EntryAt(at) is { } e)
                    {
                        if (!Offer(visitor, new DirectoryEntry(e.Name, e.Inode.Ino, e.Inode.FileType, e.Cookie + 1), e.Inode, withAttributes, addLookup))
                        {
                            break;
                        }

                        accepted++;
                    }
                }
            }

            lock (Inode)
            {
                InodeAttributes.Accessed(Inode);
            }
        }
        finally
        {
            sb.NamespaceLock.ExitRead();
        }

        return accepted;
    }

    private static bool Offer(DirectoryVisitor visitor, in DirectoryEntry entry, Inode inode, bool withAttributes, bool addLookup)
    {
        StatInfo attributes = default;
        if (withAttributes)
        {
            lock (inode)
            {
                attributes = inode.ToStat();
            }
        }

        if (!visitor(entry, attributes))
        {
            return false;
        }

        if (addLookup)
        {
            Interlocked.Increment(ref inode.Lookups);
        }

        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref closed, 1) != 0)
        {
            return;
        }

        fs.HandleClosed(Inode);
    }
}
