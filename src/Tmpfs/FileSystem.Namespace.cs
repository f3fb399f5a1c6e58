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
            return MkdirIn(dir, name, mode, c).ToStat();
        }
    }

    /// <summary>mkdir's core, shared by the path and node calls: the checks of <see cref="CheckCreate"/> are done.</summary>
    internal Inode MkdirIn(Inode dir, string name, int mode, Credentials c)
    {
        var (m, uid, gid) = Permission.InitOwner(dir, FileModes.Directory | (mode & (0x1FF | FileModes.Sticky)), c);
        var inode = sb.NewInode(m, uid, gid);
        inode.Dir!.Parent = dir;
        AddEntry(dir, name, inode);
        dir.Nlink++;
        return inode;
    }

    /// <summary>mknod(2): regular files, fifos, sockets, and (for root) character and block devices.</summary>
    public StatInfo Mknod(string path, int mode, ulong rdev = 0, Credentials? cred = null)
    {
        var c = Caller(cred);
        var type = MknodType(mode);
        using (EnterWrite())
        {
            var (dir, name) = PrepareCreate(path, c, allowTrailingSlash: false);
            return MknodIn(dir, name, type, mode, rdev, c).ToStat();
        }
    }

    /// <summary>mknod's file type check, made before any lookup (EPERM for a directory, EINVAL for a bad type).</summary>
    internal static int MknodType(int mode)
    {
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

        return type;
    }

    /// <summary>mknod's core after <see cref="MknodType"/> and <see cref="CheckCreate"/>.</summary>
    internal Inode MknodIn(Inode dir, string name, int type, int mode, ulong rdev, Credentials c)
    {
        var isDevice = type is FileModes.CharDevice or FileModes.BlockDevice;
        if (isDevice && !c.IsRoot)
        {
            TmpfsException.Throw(Errno.EPERM, "mknod of a device needs CAP_MKNOD");
        }

        var (m, uid, gid) = Permission.InitOwner(dir, type | (mode & FileModes.PermissionMask), c);
        var inode = sb.NewInode(m, uid, gid, isDevice ? rdev : 0);
        AddEntry(dir, name, inode);
        return inode;
    }

    /// <summary>symlink(2): <paramref name="linkPath"/> -> <paramref name="target"/> (stored as given).</summary>
    public StatInfo Symlink(string target, string linkPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        CheckSymlinkTarget(target);
        using (EnterWrite())
        {
            var (dir, name) = PrepareCreate(path: linkPath, c, allowTrailingSlash: false);
            return SymlinkIn(dir, name, target, c).ToStat();
        }
    }

    /// <summary>symlink's target checks, made before any lookup.</summary>
    internal static void CheckSymlinkTarget(string target)
    {
        if (target.Length == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "empty symlink target");
        }

        var length = System.Text.Encoding.UTF8.GetByteCount(target);
        if (length >= PathWalk.PathMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "symlink target longer than PATH_MAX");
        }
    }

    /// <summary>symlink's core after <see cref="CheckSymlinkTarget"/> and <see cref="CheckCreate"/>.</summary>
    internal Inode SymlinkIn(Inode dir, string name, string target, Credentials c)
    {
        var length = System.Text.Encoding.UTF8.GetByteCount(target);
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
        return inode;
    }

    /// <summary>readlink(2): EINVAL when the path is not a symlink.</summary>
    public string ReadLink(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterRead())
        {
            return ReadLinkOf(PathWalk.Lookup(sb, path, c, followFinal: false));
        }
    }

    internal static string ReadLinkOf(Inode inode)
    {
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

    /// <summary>link(2): a new name for an existing non-directory.</summary>
    public StatInfo Link(string existingPath, string newPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var inode = PathWalk.Lookup(sb, existingPath, c, followFinal: false);
            return LinkInode(inode, newPath, c).ToStat();
        }
    }

    /// <summary>linkat(fd, "", AT_EMPTY_PATH): gives an O_TMPFILE (or any open) file a name.</summary>
    public StatInfo LinkHandle(FileHandle handle, string newPath, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            if (handle.IsClosed)
            {
                TmpfsException.Throw(Errno.EBADF, "the handle is closed");
            }

            var stat = LinkInode(handle.Inode, newPath, c, linkable: handle.IsTmpfileLinkable).ToStat();

            // vfs_link clears I_LINKABLE after the first successful link: once named (and
            // perhaps unlinked again), an O_TMPFILE file cannot be linked back (ENOENT).
            handle.IsTmpfileLinkable = false;
            return stat;
        }
    }

    /// <summary>unlink(2).</summary>
    public void Unlink(string path, Credentials? cred = null)
    {
        var c = Caller(cred);
        using (EnterWrite())
        {
            var parent = PathWalk.LookupParentSpan(sb, path, c);
            if (parent.Type != PathWalk.LastType.Normal)
            {
                TmpfsException.Throw(Errno.EISDIR, "is a directory");
            }

            UnlinkIn(parent.Dir, parent.NameIn(path), parent.TrailingSlash, c);
        }
    }

    /// <summary>unlink's core, shared by the path and node calls (namespace lock held for writing).</summary>
    internal void UnlinkIn(Inode dir, ReadOnlySpan<char> name, bool trailingSlash, Credentials c)
    {
        Permission.Check(dir, AccessMode.Execute, c);

        // The lookup takes the name out of the index at once (one hash of it); a check that
        // refuses the unlink puts it back, so a failed unlink leaves the directory as it was.
        var contents = dir.Dir!;
        var inode = contents.Detach(name, out var position) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file: '{name}'");
        try
        {
            if (trailingSlash)
            {
                // do_unlinkat "slashes": decided before may_delete, so before any permission check.
                TmpfsException.Throw(inode.IsDirectory ? Errno.EISDIR : Errno.ENOTDIR, "trailing slash");
            }

            // may_delete: permission and sticky bit first, then the type.
            Permission.CheckDelete(dir, inode, c);
            if (inode.IsDirectory)
            {
                TmpfsException.Throw(Errno.EISDIR, "is a directory");
            }
        }
        catch
        {
            contents.Reattach(position);
            throw;
        }

        contents.RemoveDetached(position);
        RemovedEntry(dir, inode);
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

            RmdirIn(parent.Dir, parent.Name, c);
        }
    }

    /// <summary>rmdir's core, shared by the path and node calls (namespace lock held for writing).</summary>
    internal void RmdirIn(Inode dir, string name, Credentials c)
    {
        Permission.Check(dir, AccessMode.Execute, c);
        var inode = dir.Dir!.Lookup(name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such directory: '{name}'");

        // may_delete: permission and sticky bit first, then the type.
        Permission.CheckDelete(dir, inode, c);
        if (!inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        if (inode.Dir!.Count != 0)
        {
            TmpfsException.Throw(Errno.ENOTEMPTY, "directory not empty");
        }

        RemoveEntry(dir, name, inode);
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
            return OpenDirectoryOf(PathWalk.Lookup(sb, path, c, followFinal: true), c);
        }
    }

    /// <summary>opendir's core (namespace lock held): ENOTDIR, EACCES without read permission.</summary>
    internal DirectoryHandle OpenDirectoryOf(Inode inode, Credentials c)
    {
        if (!inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        Permission.Check(inode, AccessMode.Read, c);
        return new DirectoryHandle(this, inode);
    }

    /// <summary>
    /// The parent directory and new name for a create, after the checks every create
    /// makes: the name is a normal one and free (EEXIST), the caller may write the directory.
    /// </summary>
    private (Inode Dir, string Name) PrepareCreate(string path, Credentials c, bool allowTrailingSlash, bool checkWrite = true)
    {
        var parent = PathWalk.LookupParent(sb, path, c);
        if (parent.Type != PathWalk.LastType.Normal)
        {
            TmpfsException.Throw(Errno.EEXIST, "file exists");
        }

        CheckCreate(parent.Dir, parent.Name, c, parent.TrailingSlash && !allowTrailingSlash, checkWrite);
        return (parent.Dir, parent.Name);
    }

    /// <summary>
    /// The checks every create makes once the parent is known, in the kernel's order:
    /// search permission, a free name (EEXIST), no bad trailing slash (ENOENT), write
    /// permission, a directory not yet removed (ENOENT).
    /// </summary>
    internal static void CheckCreate(Inode dir, string name, Credentials c, bool badTrailingSlash = false, bool checkWrite = true)
    {
        if (!dir.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        Permission.Check(dir, AccessMode.Execute, c);
        if (dir.Dir!.Lookup(name) is not null)
        {
            TmpfsException.Throw(Errno.EEXIST, $"file exists: '{name}'");
        }

        if (badTrailingSlash)
        {
            TmpfsException.Throw(Errno.ENOENT, "no such file or directory (trailing slash)");
        }

        if (checkWrite)
        {
            CheckCreateWrite(dir, c);
        }
    }

    /// <summary>may_create: the directory must still be linked (IS_DEADDIR), then write and search permission.</summary>
    private static void CheckCreateWrite(Inode dir, Credentials c)
    {
        if (dir.Nlink == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "the directory has been removed");
        }

        Permission.Check(dir, AccessMode.Write | AccessMode.Execute, c);
    }

    /// <summary>
    /// do_linkat + vfs_link, in the kernel's order: the new name (filename_create: ENOENT,
    /// ENOTDIR, EEXIST), may_linkat (protected_hardlinks, EPERM), may_create (EACCES),
    /// a directory (EPERM), an unlinked source (ENOENT unless a linkable O_TMPFILE).
    /// </summary>
    private Inode LinkInode(Inode inode, string newPath, Credentials c, bool linkable = false)
    {
        var (dir, name) = PrepareCreate(newPath, c, allowTrailingSlash: false, checkWrite: false);
        return LinkIn(inode, dir, name, c, checkWrite: true, linkable);
    }

    /// <summary>link's core after <see cref="CheckCreate"/>: a new name for a non-directory.</summary>
    internal Inode LinkIn(Inode inode, Inode dir, string name, Credentials c, bool checkWrite = false, bool linkable = true)
    {
        // may_linkat with fs.protected_hardlinks=1: a non-owner may only link a file it could read and write.
        if (!Permission.IsOwner(inode, c) &&
            (!inode.IsRegular || (inode.Mode & FileModes.SetUid) != 0 ||
             (inode.Mode & (FileModes.SetGid | FileModes.GroupExecute)) == (FileModes.SetGid | FileModes.GroupExecute) ||
             !Permission.May(inode, AccessMode.Read | AccessMode.Write, c)))
        {
            TmpfsException.Throw(Errno.EPERM, "protected_hardlinks: not allowed to link");
        }

        if (checkWrite)
        {
            CheckCreateWrite(dir, c);
        }

        if (inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EPERM, "hard link to a directory");
        }

        if (inode.Nlink == 0 && !linkable)
        {
            TmpfsException.Throw(Errno.ENOENT, "the file has been unlinked");
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
        return inode;
    }

    /// <summary>
    /// shmem_mknod/shmem_link's directory update. The inode's ctime was just set to the current
    /// time by this call (made, or linked), so the directory takes the same stamp: one clock
    /// read per create, as the kernel's coarse clock gives both the same value anyway.
    /// </summary>
    private static void AddEntry(Inode dir, string name, Inode inode)
    {
        dir.Dir!.Add(name, inode);
        EntryAdded(dir, inode);
    }

    /// <summary>The directory's side of a new entry: its size and times (the new inode's ctime stamp).</summary>
    private static void EntryAdded(Inode dir, Inode inode)
    {
        dir.Size += Inode.BogoDirentSize;
        dir.MtimeNs = dir.CtimeNs = inode.CtimeNs;
    }

    /// <summary>shmem_unlink / shmem_rmdir: drops the name and a link; evicts the inode if nothing holds it.</summary>
    private void RemoveEntry(Inode dir, string name, Inode inode)
    {
        dir.Dir!.Remove(name);
        RemovedEntry(dir, inode);
    }

    /// <summary>The rest of <see cref="RemoveEntry"/> once the name is out of the directory.</summary>
    private void RemovedEntry(Inode dir, Inode inode)
    {
        dir.Size -= Inode.BogoDirentSize;
        var now = sb.NowNs();
        dir.MtimeNs = dir.CtimeNs = now;
        var finish = false;
        Interleaving.Enter(inode); // a scheduling point for the systematic tests, as Evict had
        try
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

            // iput after the last link: evicted in this same hold of the inode lock when no
            // handle or node lookup keeps it. The full fence is the unlinker's side of
            // EvictIfUnused's protocol with a racing close or forget (either sees the other).
            if (inode.Nlink == 0)
            {
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref inode.OpenCount) == 0 && Volatile.Read(ref inode.Lookups) == 0)
                {
                    finish = !sb.EvictLocked(inode);
                }
            }
        }
        finally
        {
            Monitor.Exit(inode);
        }

        if (finish)
        {
            sb.FinishEvict(inode);
        }
    }
}
