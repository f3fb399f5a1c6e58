namespace Tmpfs.Shmem;

/// <summary>
/// setattr for tmpfs (notify_change -> setattr_prepare -> shmem_setattr): chmod, chown,
/// utimens and truncate on an inode, with the kernel's permission rules and set-id
/// clearing, and the timestamp rules (relatime for reads). Callers hold no inode lock;
/// each call takes it.
/// </summary>
internal static class InodeAttributes
{
    private const long DayNs = 24L * 3600 * 1_000_000_000;

    public static void Chmod(Inode inode, int mode, Credentials cred)
    {
        lock (inode)
        {
            CheckLive(inode);
            if (!Permission.IsOwner(inode, cred))
            {
                TmpfsException.Throw(Errno.EPERM, "chmod: not the owner");
            }

            mode &= FileModes.PermissionMask;

            // setattr_prepare: the set-gid bit is silently dropped when the caller is not
            // in the file's group and lacks CAP_FSETID.
            if (!cred.IsRoot && !cred.InGroup(inode.Gid))
            {
                mode &= ~FileModes.SetGid;
            }

            inode.Mode = (inode.Mode & FileModes.TypeMask) | mode;
            inode.CtimeNs = inode.Sb.NowNs();
        }
    }

    /// <summary>chown_common + chown_ok/chgrp_ok; uint.MaxValue leaves an id unchanged.</summary>
    public static void Chown(Inode inode, uint uid, uint gid, Credentials cred)
    {
        lock (inode)
        {
            CheckLive(inode);
            var newUid = uid == uint.MaxValue ? inode.Uid : uid;
            var newGid = gid == uint.MaxValue ? inode.Gid : gid;
            var owner = cred.Uid == inode.Uid;

            // chown_ok: without CAP_CHOWN only the owner may "change" the owner to itself;
            // chgrp_ok: the owner may pick its current group or one it is in.
            if (uid != uint.MaxValue && !cred.IsRoot && !(owner && uid == inode.Uid))
            {
                TmpfsException.Throw(Errno.EPERM, "chown: operation not permitted");
            }

            if (gid != uint.MaxValue && !cred.IsRoot && !(owner && (gid == inode.Gid || cred.InGroup(gid))))
            {
                TmpfsException.Throw(Errno.EPERM, "chgrp: operation not permitted");
            }

            var kill = inode.IsDirectory ? 0 : Permission.ChownKillBits(inode, cred) & inode.Mode;
            if (kill != 0 && !Permission.IsOwner(inode, cred))
            {
                // notify_change turns ATTR_KILL_SUID into a mode change, which needs ownership.
                TmpfsException.Throw(Errno.EPERM, "chown: operation not permitted");
            }

            inode.Mode &= ~kill;
            inode.Uid = newUid;
            inode.Gid = newGid;
            inode.CtimeNs = inode.Sb.NowNs();
        }
    }

    /// <summary>
    /// utimensat: explicit times need ownership (EPERM); "now" for both needs ownership
    /// or write permission (EACCES). UTIME_OMIT leaves a time; ctime always changes.
    /// </summary>
    public static void Utimens(Inode inode, Timespec atime, Timespec mtime, Credentials cred)
    {
        if (atime.IsOmit && mtime.IsOmit)
        {
            return;
        }

        lock (inode)
        {
            CheckLive(inode);

            // vfs_utimes checks the nanoseconds before any permission.
            CheckTime(atime);
            CheckTime(mtime);
            var touch = atime.IsNow && mtime.IsNow;
            if (!Permission.IsOwner(inode, cred))
            {
                if (!touch)
                {
                    TmpfsException.Throw(Errno.EPERM, "utimens: not the owner");
                }

                Permission.Check(inode, AccessMode.Write, cred);
            }

            var now = inode.Sb.NowNs();
            if (!atime.IsOmit)
            {
                inode.AtimeNs = atime.IsNow ? now : atime.TotalNanoseconds;
            }

            if (!mtime.IsOmit)
            {
                inode.MtimeNs = mtime.IsNow ? now : mtime.TotalNanoseconds;
            }

            inode.CtimeNs = now;
        }
    }

    /// <summary>
    /// truncate/ftruncate (do_truncate + shmem_setattr): EISDIR, EINVAL, EFBIG;
    /// write permission is checked by the caller (path: inode, handle: open mode).
    /// </summary>
    public static void Truncate(Inode inode, long size, Credentials cred)
    {
        if (size < 0)
        {
            TmpfsException.Throw(Errno.EINVAL, "negative size");
        }

        if (inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        if (!inode.IsRegular)
        {
            TmpfsException.Throw(Errno.EINVAL, "not a regular file");
        }

        lock (inode)
        {
            CheckLive(inode);
            if (size < inode.Size)
            {
                PageCache.TruncatePages(inode, size);
            }

            inode.Size = size;
            Permission.KillPrivs(inode, cred);
            inode.MtimeNs = inode.CtimeNs = inode.Sb.NowNs();
        }
    }

    /// <summary>touch_atime with relatime: only when atime is not newer than mtime/ctime, or a day old.</summary>
    public static void Accessed(Inode inode)
    {
        var now = inode.Sb.NowNs();
        if (inode.AtimeNs <= inode.MtimeNs || inode.AtimeNs <= inode.CtimeNs || now - inode.AtimeNs >= DayNs)
        {
            inode.AtimeNs = now;
        }
    }

    /// <summary>file_modified: mtime and ctime to now, and the set-id bits dropped for other writers.</summary>
    public static void Modified(Inode inode, Credentials cred)
    {
        Permission.KillPrivs(inode, cred);
        inode.MtimeNs = inode.CtimeNs = inode.Sb.NowNs();
    }

    private static void CheckTime(Timespec t)
    {
        if (!t.IsNow && !t.IsOmit && (t.Nanoseconds < 0 || t.Nanoseconds >= 1_000_000_000))
        {
            TmpfsException.Throw(Errno.EINVAL, "nanoseconds out of range");
        }
    }

    private static void CheckLive(Inode inode)
    {
        if (inode.Evicted)
        {
            TmpfsException.Throw(Errno.ENOENT, "the file is gone");
        }
    }
}
