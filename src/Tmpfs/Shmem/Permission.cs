namespace Tmpfs.Shmem;

/// <summary>
/// The kernel's permission checks for a caller: generic_permission with root's
/// capabilities, the sticky-directory rule of may_delete, ownership tests (inode_owner_or_capable)
/// and the set-id clearing rules of chmod, chown and write.
/// </summary>
internal static class Permission
{
    /// <summary>generic_permission + capable(CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH).</summary>
    public static bool May(Inode inode, AccessMode mask, Credentials cred)
    {
        var mode = inode.Mode;
        if (cred.IsRoot)
        {
            // Root may do anything but execute a non-directory with no x bit at all.
            if ((mask & AccessMode.Execute) != 0 && !inode.IsDirectory && (mode & 0x49) == 0)
            {
                return false;
            }

            return true;
        }

        int granted;
        if (cred.Uid == inode.Uid)
        {
            granted = (mode >> 6) & 7;
        }
        else if (cred.InGroup(inode.Gid))
        {
            granted = (mode >> 3) & 7;
        }
        else
        {
            granted = mode & 7;
        }

        return ((int)mask & ~granted) == 0;
    }

    public static void Check(Inode inode, AccessMode mask, Credentials cred)
    {
        if (!May(inode, mask, cred))
        {
            TmpfsException.Throw(Errno.EACCES, "permission denied");
        }
    }

    /// <summary>inode_owner_or_capable(): the owner, or CAP_FOWNER.</summary>
    public static bool IsOwner(Inode inode, Credentials cred) => cred.IsRoot || cred.Uid == inode.Uid;

    /// <summary>
    /// may_delete()/check_sticky(): write and search on the directory, and in a sticky
    /// directory only the file's owner, the directory's owner or root may remove it (EPERM).
    /// </summary>
    public static void CheckDelete(Inode dir, Inode victim, Credentials cred)
    {
        Check(dir, AccessMode.Write | AccessMode.Execute, cred);
        if ((dir.Mode & FileModes.Sticky) != 0 && !cred.IsRoot && cred.Uid != victim.Uid && cred.Uid != dir.Uid)
        {
            TmpfsException.Throw(Errno.EPERM, "sticky directory: not the owner");
        }
    }

    /// <summary>
    /// inode_init_owner(): a new inode's owner and group, set-gid directory inheritance,
    /// and mode_strip_sgid() for a set-gid file the caller could not have made.
    /// </summary>
    public static (int Mode, uint Uid, uint Gid) InitOwner(Inode dir, int mode, Credentials cred)
    {
        var uid = cred.Uid;
        uint gid;
        if ((dir.Mode & FileModes.SetGid) != 0)
        {
            gid = dir.Gid;
            if (FileModes.IsDirectory(mode))
            {
                mode |= FileModes.SetGid;
            }
        }
        else
        {
            gid = cred.Gid;
        }

        if (!FileModes.IsDirectory(mode) && (mode & (FileModes.SetGid | FileModes.GroupExecute)) == (FileModes.SetGid | FileModes.GroupExecute) &&
            !cred.InGroup(gid) && !cred.IsRoot)
        {
            mode &= ~FileModes.SetGid;
        }

        return (mode, uid, gid);
    }

    /// <summary>
    /// file_remove_privs() on write and truncate (setattr_should_drop_suidgid): clears
    /// set-user-ID; clears set-group-ID when group-executable or when the caller is not
    /// in the file's group; nothing for a caller with CAP_FSETID (root).
    /// </summary>
    public static bool KillPrivs(Inode inode, Credentials cred)
    {
        if (cred.IsRoot || !inode.IsRegular)
        {
            return false;
        }

        var kill = ChownKillBits(inode, cred) & inode.Mode;
        if (kill == 0)
        {
            return false;
        }

        inode.Mode &= ~kill;
        return true;
    }

    /// <summary>
    /// The set-id bits a chown clears (chown_common: ATTR_KILL_SUID always, and
    /// setattr_should_drop_sgid); callers apply it to non-directories only.
    /// </summary>
    public static int ChownKillBits(Inode inode, Credentials cred)
    {
        var kill = FileModes.SetUid;
        if ((inode.Mode & FileModes.SetGid) != 0 &&
            ((inode.Mode & FileModes.GroupExecute) != 0 || !(cred.IsRoot || cred.InGroup(inode.Gid))))
        {
            kill |= FileModes.SetGid;
        }

        return kill;
    }
}
