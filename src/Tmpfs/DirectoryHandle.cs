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
        if (Volatile.Read(ref closed) != 0)
        {
            TmpfsException.Throw(Errno.EBADF, "the handle is closed");
        }

        var result = new List<DirectoryEntry>();
        var sb = Inode.Sb;
        sb.NamespaceLock.EnterReadLock();
        try
        {
            var dir = Inode.Dir!;
            if (cookie <= 0 && result.Count < max)
            {
                result.Add(new DirectoryEntry(".", Inode.Ino, FileModes.Directory, 1));
            }

            if (cookie <= 1 && result.Count < max)
            {
                result.Add(new DirectoryEntry("..", dir.Parent.Ino, FileModes.Directory, 2));
            }

            if (Inode.Nlink > 0)
            {
                for (var at = dir.SeekPosition(Math.Max(cookie, DirectoryContents.FirstCookie)); at < dir.PositionCount && result.Count < max; at++)
                {
                    if (dir.EntryAt(at) is { } e)
                    {
                        result.Add(new DirectoryEntry(e.Name, e.Inode.Ino, e.Inode.FileType, e.Cookie + 1));
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
            sb.NamespaceLock.ExitReadLock();
        }

        return result;
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
