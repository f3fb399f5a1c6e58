using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>open(2) and O_TMPFILE.</summary>
public sealed partial class FileSystem
{
    /// <summary>
    /// open(2)/creat(2) with O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW,
    /// O_TMPFILE semantics. <paramref name="mode"/> is used when a file is created (no umask
    /// is applied: pass the masked mode, as the kernel passes it to the filesystem).
    /// </summary>
    public FileHandle Open(string path, OpenFlags flags, int mode = 0x1B6 /* 0666 */, Credentials? cred = null)
    {
        var c = Caller(cred);
        if ((flags & OpenFlags.TmpFile) == OpenFlags.TmpFile)
        {
            return OpenTmpfile(path, flags, mode, c);
        }

        // Access mode 3 (O_WRONLY|O_RDWR) is Linux's ioctl-only open: it needs read and write
        // permission but allows neither reading nor writing. O_CREAT | O_DIRECTORY is EINVAL
        // (build_open_flags, 6.4+).
        if ((flags & (OpenFlags.Create | OpenFlags.Directory)) == (OpenFlags.Create | OpenFlags.Directory))
        {
            TmpfsException.Throw(Errno.EINVAL, "O_CREAT | O_DIRECTORY");
        }

        Inode inode;
        var created = false;
        if ((flags & OpenFlags.Create) != 0)
        {
            PathWalk.ParentResult? walked = null;
            if ((flags & OpenFlags.Exclusive) == 0)
            {
                // O_CREAT of a file that already exists changes no directory: look it up
                // under the read lock, and take the write lock only to create. As in the
                // kernel, the walk to the parent is not repeated under the lock (CreateIn
                // refuses a directory removed meanwhile).
                using (EnterRead())
                {
                    var parent = PathWalk.LookupParent(sb, path, c);
                    if (parent.Type == PathWalk.LastType.Normal && !parent.TrailingSlash)
                    {
                        Permission.Check(parent.Dir, AccessMode.Execute, c);
                        if (parent.Dir.Dir!.Lookup(parent.Name) is { IsRegular: true } existing)
                        {
                            return FinishOpen(existing, flags, c, created: false);
                        }
                    }

                    walked = parent;
                }
            }

            using (EnterWrite())
            {
                (inode, created) = OpenCreate(path, flags, mode, c, walked);
                return FinishOpen(inode, flags, c, created);
            }
        }

        using (EnterRead())
        {
            var nofollow = (flags & OpenFlags.NoFollow) != 0;
            inode = PathWalk.Lookup(sb, path, c, followFinal: !nofollow);
            if (nofollow && inode.IsSymlink && (flags & OpenFlags.Path) == 0)
            {
                TmpfsException.Throw(Errno.ELOOP, "O_NOFOLLOW on a symbolic link");
            }

            return FinishOpen(inode, flags, c, created: false);
        }
    }

    private (Inode Inode, bool Created) OpenCreate(string path, OpenFlags flags, int mode, Credentials c, PathWalk.ParentResult? walked)
    {
        for (var links = 0; ; links++)
        {
            var parent = links == 0 && walked is { } first ? first : PathWalk.LookupParent(sb, path, c);
            if (parent.Type != PathWalk.LastType.Normal)
            {
                // ".", ".." or the root: do_open says EEXIST with O_EXCL, else EISDIR.
                TmpfsException.Throw((flags & OpenFlags.Exclusive) != 0 ? Errno.EEXIST : Errno.EISDIR, "O_CREAT on a directory");
            }

            if (parent.TrailingSlash)
            {
                // open_last_lookups: O_CREAT with trailing slashes is EISDIR, existing or not.
                TmpfsException.Throw(Errno.EISDIR, "O_CREAT with a trailing slash");
            }

            var dir = parent.Dir;
            var (existing, created) = CreateIn(dir, parent.Name, flags, mode, c);
            if (!created)
            {
                if (existing.IsSymlink)
                {
                    if ((flags & OpenFlags.NoFollow) != 0)
                    {
                        CheckCreateInSticky(dir, existing, c);
                        TmpfsException.Throw(Errno.ELOOP, "O_NOFOLLOW on a symbolic link");
                    }

                    if (links >= PathWalk.MaxSymlinks)
                    {
                        TmpfsException.Throw(Errno.ELOOP, "too many levels of symbolic links");
                    }

                    // O_CREAT through a symlink creates its target (a dangling link included).
                    lock (existing)
                    {
                        InodeAttributes.Accessed(existing); // pick_link touches the link's atime
                    }

                    var target = existing.LinkTarget!;
                    path = target.StartsWith('/') ? target : PathOf(dir) + "/" + target;
                    continue;
                }

                CheckCreateInSticky(dir, existing, c);
            }

            return (existing, created);
        }
    }

    /// <summary>
    /// may_create_in_sticky, with the kernel's default fs.protected_regular=0 and
    /// fs.protected_fifos=0: O_CREAT meeting an existing file other than a regular file or
    /// FIFO in a sticky world-writable directory is EACCES unless the caller or the
    /// directory's owner owns it. There is no capability override, root included.
    /// </summary>
    private static void CheckCreateInSticky(Inode dir, Inode existing, Credentials c)
    {
        if ((dir.Mode & FileModes.Sticky) == 0 || existing.IsRegular || (existing.Mode & FileModes.TypeMask) == FileModes.Fifo)
        {
            return;
        }

        if (existing.Uid == dir.Uid || existing.Uid == c.Uid)
        {
            return;
        }

        if ((dir.Mode & 0x2) != 0)
        {
            TmpfsException.Throw(Errno.EACCES, "O_CREAT on another user's file in a sticky directory");
        }
    }

    /// <summary>
    /// O_CREAT's core in a known directory (namespace lock held for writing): the existing
    /// inode (EEXIST with O_EXCL, EISDIR for a directory; a symlink is returned for the
    /// caller to follow) or a new regular file owned by the caller.
    /// </summary>
    internal (Inode Inode, bool Created) CreateIn(Inode dir, string name, OpenFlags flags, int mode, Credentials c)
    {
        Permission.Check(dir, AccessMode.Execute, c);
        var contents = dir.Dir!;
        ref var reserved = ref contents.LookupOrReserve(name, out var existing);
        if (existing is not null)
        {
            if ((flags & OpenFlags.Exclusive) != 0)
            {
                TmpfsException.Throw(Errno.EEXIST, $"file exists: '{name}'");
            }

            if (existing.IsDirectory)
            {
                TmpfsException.Throw(Errno.EISDIR, "O_CREAT on a directory");
            }

            return (existing, false);
        }

        // The name is reserved: a failure from here on drops it, leaving the directory as it was.
        Inode inode;
        try
        {
            Permission.Check(dir, AccessMode.Write | AccessMode.Execute, c);
            if (dir.Nlink == 0)
            {
                TmpfsException.Throw(Errno.ENOENT, "the directory has been removed");
            }

            var (m, uid, gid) = Permission.InitOwner(dir, FileModes.Regular | (mode & FileModes.PermissionMask), c);
            inode = sb.NewInode(m, uid, gid);
        }
        catch
        {
            contents.Unreserve(name);
            throw;
        }

        contents.AddReserved(ref reserved, name, inode);
        EntryAdded(dir, inode);
        return (inode, true);
    }

    /// <summary>open(dir, O_TMPFILE): an unnamed regular file in a directory, linkable later.</summary>
    private FileHandle OpenTmpfile(string path, OpenFlags flags, int mode, Credentials c)
    {
        CheckTmpfileFlags(flags);
        using (EnterWrite())
        {
            return TmpfileIn(PathWalk.Lookup(sb, path, c, followFinal: true), flags, mode, c);
        }
    }

    /// <summary>build_open_flags: O_TMPFILE needs write access and excludes O_CREAT (EINVAL).</summary>
    internal static void CheckTmpfileFlags(OpenFlags flags)
    {
        var accessMode = flags & OpenFlags.AccessModeMask;
        if (accessMode == OpenFlags.ReadOnly || (flags & OpenFlags.Create) != 0) // O_ACCMODE (3) includes MAY_WRITE
        {
            TmpfsException.Throw(Errno.EINVAL, "O_TMPFILE needs write access and no O_CREAT");
        }
    }

    /// <summary>O_TMPFILE's core in a known directory (namespace lock held for writing).</summary>
    internal FileHandle TmpfileIn(Inode dir, OpenFlags flags, int mode, Credentials c)
    {
        if (!dir.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        Permission.Check(dir, AccessMode.Write | AccessMode.Execute, c);
        var (m, uid, gid) = Permission.InitOwner(dir, FileModes.Regular | (mode & FileModes.PermissionMask), c);
        var inode = sb.NewInode(m, uid, gid);
        inode.Nlink = 0;
        var handle = new FileHandle(inode, flags & ~OpenFlags.TmpFile, c)
        {
            IsTmpfileLinkable = (flags & OpenFlags.Exclusive) == 0,
        };
        return handle;
    }

    internal FileHandle FinishOpen(Inode inode, OpenFlags flags, Credentials c, bool created)
    {
        var accessMode = flags & OpenFlags.AccessModeMask;
        if ((flags & OpenFlags.Path) != 0)
        {
            return new FileHandle(inode, flags, c);
        }

        if ((flags & OpenFlags.Directory) != 0 && !inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        // do_open: O_TRUNC asks for MAY_WRITE, so a directory opened O_RDONLY|O_TRUNC is EISDIR too.
        if (inode.IsDirectory && (accessMode != OpenFlags.ReadOnly || (flags & OpenFlags.Truncate) != 0))
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        if ((inode.Mode & FileModes.TypeMask) == FileModes.Socket)
        {
            TmpfsException.Throw(Errno.ENXIO, "cannot open a socket");
        }

        // may_open: a file just created by this call is not checked again.
        if (!created)
        {
            var want = AccessMode.Exists;
            if (accessMode is OpenFlags.ReadOnly or OpenFlags.ReadWrite or OpenFlags.AccessModeMask)
            {
                want |= AccessMode.Read;
            }

            if (accessMode is OpenFlags.WriteOnly or OpenFlags.ReadWrite or OpenFlags.AccessModeMask || (flags & OpenFlags.Truncate) != 0)
            {
                want |= AccessMode.Write;
            }

            if (want != AccessMode.Exists)
            {
                Permission.Check(inode, want, c);
            }
        }

        if (!created && (flags & OpenFlags.Truncate) != 0 && inode.IsRegular)
        {
            InodeAttributes.Truncate(inode, 0, c);
        }

        return new FileHandle(inode, flags, c);
    }

    /// <summary>The path of a directory from the root, for following a relative symlink during O_CREAT.</summary>
    private static string PathOf(Inode dir)
    {
        var parts = new List<string>();
        var at = dir;
        while (!ReferenceEquals(at.Dir!.Parent, at))
        {
            var parent = at.Dir.Parent;
            string? name = null;
            foreach (var e in parent.Dir!.Entries)
            {
                if (ReferenceEquals(e.Inode, at))
                {
                    name = e.Name;
                    break;
                }
            }

            parts.Add(name ?? TmpfsException.Throw<string>(Errno.ENOENT, "directory removed"));
            at = parent;
        }

        parts.Reverse();
        return "/" + string.Join('/', parts);
    }
}
