using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>Names: create, mkdir, mknod, symlink, link, unlink, rmdir, readlink, readdir.</summary>
public sealed partial class FileSystem
{
    private const int MaxLinks = int.MaxValue; // tmpfs has no link limit beyond the counter

    /// <summary>mkdir(2). The mode's permission bits and sticky bit are kept; set-gid comes from a set-gid parent.</summary>
    public StatInfo Mkdir(string path, int mode, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var (dir, name) = PrepareCreate(path, c, allowTrailingSlash: true);
            var (m, uid, gid) = Permission.InitOwner(dir, FileModes.Directory | (mode & (0x1FF | FileModes.Sticky)), c);
            var inode = sb.NewInode(m, uid, gid);
            inode.Dir!.Parent = dir;
            AddEntry(dir, name, inode);
            dir.Nlink++;
            return inode.ToStat();
        }
    }

    /// <summary>mknod(2): regular files, fifos, sockets, and (for root) character and block devices.</summary>
    public StatInfo Mknod(string path, int mode, ulong rdev = 0, Credentials? cred = null)
    {
        var c = Caller(cred);
        var type = mode & FileModes.TypeMask;
        switch (type)
        {
            case 0:
                type = FileModes.Regular;
                break;
            case FileModes.Regular:
            case FileModes.Fifo:
            case FileModes.Socket:
                break;
            case FileModes.CharDevice:
            case FileModes.BlockDevice:
                break; // CAP_MKNOD is checked by vfs_mknod, after the lookup and may_create
            case FileModes.Directory:
                TmpfsException.Throw(Errno.EPERM, "mknod cannot make a directory");
                break;
            default:
                TmpfsException.Throw(Errno.EINVAL, "bad file type");
                break;
        }

        using (EnterWrite())
        {
            var (dir, name) = PrepareCreate(path, c, allowTrailingSlash: false);
            var isDevice = type is FileModes.CharDevice or FileModes.BlockDevice;
            if (isDevice && !c.IsRoot)
            {
                TmpfsException.Throw(Errno.EPERM, "mknod of a device needs CAP_MKNOD");
            }

            var (m, uid, gid) = Permission.InitOwner(dir, type | (mode & FileModes.PermissionMask), c);
            var inode = sb.NewInode(m, uid, gid, isDevice ? rdev : 0);
            AddEntry(dir, name, inode);
            return inode.ToStat();
        }
    }

    /// <summary>symlink(2): <paramref name="linkPath"/> -> <paramref name="target"/> (stored as given).</summary>
    public StatInfo Symlink(string target, string linkPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        if (target.Length == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "empty symlink target");
        }

        var length = System.Text.Encoding.UTF8.GetByteCount(target);
        if (length >= PathWalk.PathMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "symlink target longer than PATH_MAX");
        }

        using (EnterWrite())
        {
            var (dir, name) = PrepareCreate(path: linkPath, c, allowTrailingSlash: false);
            var (m, uid, gid) = Permission.InitOwner(dir, FileModes.Symlink | 0x1FF, c);
            var inode = sb.NewInode(m, uid, gid);
            inode.LinkTarget = target;
            inode.Size = length;

            // shmem_symlink: targets longer than SHORT_SYMLINK_LEN (128 with the NUL) take a
            // page: page 0 of the link's own page cache, charged and freed as a file's page.
            if (length + 1 > 128)
            {
                try
                {
                    lock (inode)
                    {
                        var pfn = PageCache.GetPage(inode, 0);
                        System.Text.Encoding.UTF8.GetBytes(target, sb.Frames.GetSpan(pfn));
                        sb.Frames.SetFlag(pfn, Tmpfs.Memory.PageFlags.Uptodate | Tmpfs.Memory.PageFlags.Dirty);
                        sb.Frames.PutPage(pfn);
                    }
                }
                catch (TmpfsException)
                {
                    inode.Nlink = 0;
                    sb.Evict(inode);
                    throw;
                }
            }

            AddEntry(dir, name, inode);
            return inode.ToStat();
        }
    }

    /// <summary>readlink(2): EINVAL when the path is not a symlink.</summary>
    public string ReadLink(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterRead())
        {
            var inode = PathWalk.Lookup(sb, path, c, followFinal: false);
            if (!inode.IsSymlink)
            {
                TmpfsException.Throw(Errno.EINVAL, "not a symbolic link");
            }

            lock (inode)
            {
                InodeAttributes.Accessed(inode);
            }

            return inode.LinkTarget!;
        }
    }

    /// <summary>link(2): a new name for an existing non-directory.</summary>
    public StatInfo Link(string existingPath, string newPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var inode = PathWalk.Lookup(sb, existingPath, c, followFinal: false);
            return LinkInode(inode, newPath, c);
        }
    }

    /// <summary>linkat(fd, "", AT_EMPTY_PATH): gives an O_TMPFILE (or any open) file a name.</summary>
    public StatInfo LinkHandle(FileHandle handle, string newPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var inode = handle.Inode;
            if (handle.IsClosed)
            {
                TmpfsException.Throw(Errno.EBADF, "the handle is closed");
            }

            if (inode.Nlink == 0 && !handle.IsTmpfileLinkable)
            {
                TmpfsException.Throw(Errno.ENOENT, "the file has been unlinked");
            }

            return LinkInode(inode, newPath, c);
        }
    }

    /// <summary>unlink(2).</summary>
    public void Unlink(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var parent = PathWalk.LookupParent(sb, path, c);
            if (parent.Type != PathWalk.LastType.Normal)
            {
                TmpfsException.Throw(Errno.EISDIR, "is a directory");
            }

            var dir = parent.Dir;
            Permission.Check(dir, AccessMode.Execute, c);
            var inode = dir.Dir!.Lookup(parent.Name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file: '{parent.Name}'");
            if (inode.IsDirectory)
            {
                TmpfsException.Throw(Errno.EISDIR, "is a directory");
            }

            if (parent.TrailingSlash)
            {
                TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
            }

            Permission.CheckDelete(dir, inode, c);
            RemoveEntry(dir, parent.Name, inode);
        }
    }

    /// <summary>rmdir(2): ENOTEMPTY, EINVAL for ".", EBUSY for the root.</summary>
    public void Rmdir(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var parent = PathWalk.LookupParent(sb, path, c);
            switch (parent.Type)
            {
                case PathWalk.LastType.Dot:
                    TmpfsException.Throw(Errno.EINVAL, "cannot remove '.'");
                    break;
                case PathWalk.LastType.DotDot:
                    TmpfsException.Throw(Errno.ENOTEMPTY, "cannot remove '..'");
                    break;
                case PathWalk.LastType.Root:
                    TmpfsException.Throw(Errno.EBUSY, "cannot remove the mount's root");
                    break;
            }

            var dir = parent.Dir;
            Permission.Check(dir, AccessMode.Execute, c);
            var inode = dir.Dir!.Lookup(parent.Name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such directory: '{parent.Name}'");
            if (!inode.IsDirectory)
            {
                TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
            }

            Permission.CheckDelete(dir, inode, c);
            if (inode.Dir!.Count != 0)
            {
                TmpfsException.Throw(Errno.ENOTEMPTY, "directory not empty");
            }

            RemoveEntry(dir, parent.Name, inode);
        }
    }

    /// <summary>The entries of a directory, without "." and ".." (opendir + readdir to the end).</summary>
    public IReadOnlyList<DirectoryEntry> ReadDirectory(string path, Credentials? cred = null)
    {
        using var handle = OpenDirectory(path, cred);
        var result = new List<DirectoryEntry>();
        foreach (var e in handle.Read(DirectoryContents.FirstCookie - 1, int.MaxValue))
        {
            result.Add(e);
        }

        return result;
    }

    /// <summary>opendir(3): a handle that reads the directory by stable cookies (EACCES without read permission).</summary>
    public DirectoryHandle OpenDirectory(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterRead())
        {
            var inode = PathWalk.Lookup(sb, path, c, followFinal: true);
            if (!inode.IsDirectory)
            {
                TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
            }

            Permission.Check(inode, AccessMode.Read, c);
            return new DirectoryHandle(this, inode);
        }
    }

    /// <summary>
    /// The parent directory and new name for a create, after the checks every create
    /// makes: the name is a normal one and free (EEXIST), the caller may write the directory.
    /// </summary>
    private (Inode Dir, string Name) PrepareCreate(string path, Credentials c, bool allowTrailingSlash)
    {
        var parent = PathWalk.LookupParent(sb, path, c);
        var dir = parent.Dir;
        if (parent.Type != PathWalk.LastType.Normal)
        {
            TmpfsException.Throw(Errno.EEXIST, "file exists");
        }

        Permission.Check(dir, AccessMode.Execute, c);
        if (dir.Dir!.Lookup(parent.Name) is not null)
        {
            TmpfsException.Throw(Errno.EEXIST, $"file exists: '{parent.Name}'");
        }

        if (parent.TrailingSlash && !allowTrailingSlash)
        {
            TmpfsException.Throw(Errno.ENOENT, "no such file or directory (trailing slash)");
        }

        Permission.Check(dir, AccessMode.Write | AccessMode.Execute, c);
        if (dir.Nlink == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "the directory has been removed");
        }

        return (dir, parent.Name);
    }

    private StatInfo LinkInode(Inode inode, string newPath, Credentials c)
    {
        if (inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EPERM, "hard link to a directory");
        }

        var (dir, name) = PrepareCreate(newPath, c, allowTrailingSlash: false);

        // may_linkat with fs.protected_hardlinks=1: a non-owner may only link a file it could read and write.
        if (!Permission.IsOwner(inode, c) &&
            (!inode.IsRegular || (inode.Mode & FileModes.SetUid) != 0 ||
             (inode.Mode & (FileModes.SetGid | FileModes.GroupExecute)) == (FileModes.SetGid | FileModes.GroupExecute) ||
             !Permission.May(inode, AccessMode.Read | AccessMode.Write, c)))
        {
            TmpfsException.Throw(Errno.EPERM, "protected_hardlinks: not allowed to link");
        }

        if (inode.Nlink >= MaxLinks)
        {
            TmpfsException.Throw(Errno.EMLINK, "too many links");
        }

        // shmem_link: each extra link costs inode space, but not the first link of an O_TMPFILE file.
        if (inode.Nlink > 0)
        {
            sb.ReserveLink();
        }

        lock (inode)
        {
            // A close racing linkat may have evicted an unlinked file since the checks above;
            // eviction rechecks nlink under this lock, so one of the two wins cleanly.
            if (inode.Evicted)
            {
                TmpfsException.Throw(Errno.ENOENT, "the file has been freed");
            }

            inode.Nlink++;
            inode.CtimeNs = sb.NowNs();
        }

        AddEntry(dir, name, inode);
        return inode.ToStat();
    }

    private void AddEntry(Inode dir, string name, Inode inode)
    {
        dir.Dir!.Add(name, inode);
        dir.Size += Inode.BogoDirentSize;
        dir.MtimeNs = dir.CtimeNs = sb.NowNs();
    }

    /// <summary>shmem_unlink / shmem_rmdir: drops the name and a link; evicts the inode if nothing holds it.</summary>
    private void RemoveEntry(Inode dir, string name, Inode inode)
    {
        dir.Dir!.Remove(name);
        dir.Size -= Inode.BogoDirentSize;
        var now = sb.NowNs();
        dir.MtimeNs = dir.CtimeNs = now;
        lock (inode)
        {
            if (inode.IsDirectory)
            {
                inode.Nlink = 0;
                dir.Nlink--;
            }
            else
            {
                if (inode.Nlink > 1)
                {
                    sb.ReturnIspace(Superblock.BogoInodeSize);
                }

                inode.Nlink--;
            }

            inode.CtimeNs = now;
        }

        sb.EvictIfUnused(inode);
    }
}
