using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>rename(2) and renameat2(2) with RENAME_NOREPLACE and RENAME_EXCHANGE.</summary>
public sealed partial class FileSystem
{
    /// <summary>
    /// renameat2(2): POSIX overwrite rules (EISDIR, ENOTDIR, ENOTEMPTY), EINVAL for a
    /// directory moved into its own subtree, NOREPLACE (EEXIST) and EXCHANGE.
    /// </summary>
    public void Rename(string oldPath, string newPath, RenameFlags flags = RenameFlags.None, Credentials? cred = null)
    {
        var c = Caller(cred);
        if ((flags & ~(RenameFlags.NoReplace | RenameFlags.Exchange | RenameFlags.Whiteout)) != 0 ||
            ((flags & RenameFlags.NoReplace) != 0 && (flags & RenameFlags.Exchange) != 0))
        {
            TmpfsException.Throw(Errno.EINVAL, "bad rename flags");
        }

        if ((flags & RenameFlags.Whiteout) != 0 && (flags & RenameFlags.Exchange) != 0)
        {
            TmpfsException.Throw(Errno.EINVAL, "RENAME_WHITEOUT with RENAME_EXCHANGE");
        }

        var exchange = (flags & RenameFlags.Exchange) != 0;
        using (EnterWrite())
        {
            var from = PathWalk.LookupParent(sb, oldPath, c);
            var to = PathWalk.LookupParent(sb, newPath, c);
            if (from.Type != PathWalk.LastType.Normal)
            {
                TmpfsException.Throw(Errno.EBUSY, "cannot rename '.', '..' or the root");
            }

            if (to.Type != PathWalk.LastType.Normal)
            {
                TmpfsException.Throw((flags & RenameFlags.NoReplace) != 0 ? Errno.EEXIST : Errno.EBUSY, "cannot rename onto '.', '..' or the root");
            }

            var oldDir = from.Dir;
            var newDir = to.Dir;
            Permission.Check(oldDir, AccessMode.Execute, c);
            Permission.Check(newDir, AccessMode.Execute, c);
            var source = oldDir.Dir!.Lookup(from.Name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file or directory: '{from.Name}'");
            var target = newDir.Dir!.Lookup(to.Name);
            if (exchange && target is null)
            {
                TmpfsException.Throw(Errno.ENOENT, $"no such file or directory: '{to.Name}'");
            }

            if (target is not null && (flags & RenameFlags.NoReplace) != 0)
            {
                TmpfsException.Throw(Errno.EEXIST, $"file exists: '{to.Name}'");
            }

            // Trailing slashes: allowed only where the object is a directory.
            if (!source.IsDirectory && (from.TrailingSlash || to.TrailingSlash) && !(exchange && target!.IsDirectory && !from.TrailingSlash))
            {
                TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
            }

            if (exchange && to.TrailingSlash && !target!.IsDirectory)
            {
                TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
            }

            // lock_rename's trap: the source may not be an ancestor of the new parent,
            // nor (unless exchanging) the target an ancestor of the old parent.
            if (source.IsDirectory && IsAncestorOrSelf(source, newDir))
            {
                TmpfsException.Throw(Errno.EINVAL, "cannot move a directory into itself");
            }

            if (target is not null && target.IsDirectory && IsAncestorOrSelf(target, oldDir))
            {
                TmpfsException.Throw(exchange ? Errno.EINVAL : Errno.ENOTEMPTY, "target is an ancestor of the source");
            }

            if (ReferenceEquals(source, target))
            {
                return; // Two names of one inode: rename does nothing (POSIX).
            }

            if (!exchange && target is not null)
            {
                if (source.IsDirectory && !target.IsDirectory)
                {
                    TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
                }

                if (!source.IsDirectory && target.IsDirectory)
                {
                    TmpfsException.Throw(Errno.EISDIR, "is a directory");
                }
            }

            // may_delete on the source, may_delete or may_create at the target.
            Permission.CheckDelete(oldDir, source, c);
            if (target is not null)
            {
                Permission.CheckDelete(newDir, target, c);
            }
            else
            {
                Permission.Check(newDir, AccessMode.Write | AccessMode.Execute, c);
            }

            // A directory that changes parent rewrites its "..": that needs write permission on it.
            if (!ReferenceEquals(oldDir, newDir))
            {
                if (source.IsDirectory)
                {
                    Permission.Check(source, AccessMode.Write, c);
                }

                if (exchange && target!.IsDirectory)
                {
                    Permission.Check(target, AccessMode.Write, c);
                }
            }

            if (!exchange && target is { IsDirectory: true } && target.Dir!.Count != 0)
            {
                TmpfsException.Throw(Errno.ENOTEMPTY, "directory not empty");
            }

            var now = sb.NowNs();
            if (exchange)
            {
                Exchange(oldDir, from.Name, source, newDir, to.Name, target!, now);
                return;
            }

            // shmem_whiteout: RENAME_WHITEOUT leaves a character device 0:0 of mode 0 at the old
            // name (any caller, kernel 6.18). Made first, so ENOSPC changes nothing.
            Inode? whiteout = null;
            if ((flags & RenameFlags.Whiteout) != 0)
            {
                var (m, uid, gid) = Permission.InitOwner(oldDir, FileModes.CharDevice, c);
                whiteout = sb.NewInode(m, uid, gid, 0);
            }

            if (target is not null)
            {
                RemoveEntry(newDir, to.Name, target);
            }

            oldDir.Dir.Remove(from.Name);
            oldDir.Size -= Inode.BogoDirentSize;
            if (whiteout is not null)
            {
                oldDir.Dir.Add(from.Name, whiteout);
                oldDir.Size += Inode.BogoDirentSize;
            }

            newDir.Dir.Add(to.Name, source);
            newDir.Size += Inode.BogoDirentSize;
            if (source.IsDirectory && !ReferenceEquals(oldDir, newDir))
            {
                source.Dir!.Parent = newDir;
                oldDir.Nlink--;
                newDir.Nlink++;
            }

            oldDir.MtimeNs = oldDir.CtimeNs = now;
            newDir.MtimeNs = newDir.CtimeNs = now;
            lock (source)
            {
                source.CtimeNs = now;
            }
        }
    }

    /// <summary>shmem_exchange: the two names swap inodes; directory link counts follow.</summary>
    private static void Exchange(Inode oldDir, string oldName, Inode source, Inode newDir, string newName, Inode target, long now)
    {
        oldDir.Dir!.Replace(oldName, target);
        newDir.Dir!.Replace(newName, source);
        if (!ReferenceEquals(oldDir, newDir))
        {
            if (source.IsDirectory)
            {
                source.Dir!.Parent = newDir;
                oldDir.Nlink--;
                newDir.Nlink++;
            }

            if (target.IsDirectory)
            {
                target.Dir!.Parent = oldDir;
                newDir.Nlink--;
                oldDir.Nlink++;
            }
        }

        oldDir.MtimeNs = oldDir.CtimeNs = now;
        newDir.MtimeNs = newDir.CtimeNs = now;
        source.CtimeNs = now;
        target.CtimeNs = now;
    }

    private static bool IsAncestorOrSelf(Inode ancestor, Inode dir)
    {
        var at = dir;
        while (true)
        {
            if (ReferenceEquals(at, ancestor))
            {
                return true;
            }

            var parent = at.Dir!.Parent;
            if (ReferenceEquals(parent, at))
            {
                return false;
            }

            at = parent;
        }
    }
}
