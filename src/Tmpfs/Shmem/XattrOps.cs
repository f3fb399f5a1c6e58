using System.Text;

namespace Tmpfs.Shmem;

/// <summary>
/// getxattr/setxattr/listxattr/removexattr on an inode (fs/xattr.c + shmem_xattr_handler):
/// the user., trusted. and security. namespaces with xattr_permission's rules, CREATE and
/// REPLACE, ENODATA, ERANGE, and inode-space charging (ENOSPC).
/// </summary>
internal static class XattrOps
{
    private const int Read = 0;
    private const int Write = 1;

    public static int Get(Inode inode, string name, Span<byte> buffer, Credentials cred)
    {
        var n = TryGet(inode, name, buffer, cred);
        return n >= 0 ? n : TmpfsException.Throw<int>(Errno.ENODATA, $"no attribute '{name}'");
    }

    /// <summary>
    /// As <see cref="Get"/>, but a missing attribute is -1 instead of ENODATA: the FUSE server
    /// answers `ls -l`'s security.selinux probe of every file with it, and a throw costs more
    /// than the rest of the request (other errors still throw).
    /// </summary>
    public static int TryGet(Inode inode, string name, Span<byte> buffer, Credentials cred)
    {
        CheckImport(name);
        lock (inode)
        {
            CheckPermission(inode, name, Read, cred);
            CheckNamespace(name);
            if (inode.Xattrs?.Get(name) is not { } value)
            {
                return -1;
            }

            if (buffer.Length == 0)
            {
                return value.Length;
            }

            if (buffer.Length < value.Length)
            {
                TmpfsException.Throw(Errno.ERANGE, "buffer too small for the attribute value");
            }

            value.CopyTo(buffer);
            return value.Length;
        }
    }

    public static void Set(Inode inode, string name, ReadOnlySpan<byte> value, XattrFlags flags, Credentials cred)
    {
        if ((flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0)
        {
            TmpfsException.Throw(Errno.EINVAL, "bad xattr flags");
        }

        CheckImport(name);
        if (value.Length > XattrList.MaxValueSize)
        {
            TmpfsException.Throw(Errno.E2BIG, "attribute value too large");
        }

        lock (inode)
        {
            // The path was resolved before this lock: an unlink (or unmount) in between may
            // have evicted the inode, whose xattr charges are returned; do not charge again.
            if (inode.Evicted)
            {
                TmpfsException.Throw(Errno.ENOENT, "the file is gone");
            }

            CheckPermission(inode, name, Write, cred);
            CheckNamespace(name);
            var list = inode.Xattrs;
            var old = list?.Get(name);

            // shmem_xattr_handler_set charges the inode space first (ENOSPC), and only then
            // does simple_xattr_set look at CREATE/REPLACE (EEXIST, ENODATA), giving it back.
            var space = XattrList.Space(name, value.Length);
            if (!inode.Sb.TryChargeIspace(space))
            {
                TmpfsException.Throw(Errno.ENOSPC, "no inode space left for the attribute");
            }

            if ((old is not null && (flags & XattrFlags.Create) != 0) || (old is null && (flags & XattrFlags.Replace) != 0))
            {
                inode.Sb.ReturnIspace(space);
                TmpfsException.Throw(old is null ? Errno.ENODATA : Errno.EEXIST, $"attribute '{name}': {(old is null ? "missing" : "exists")}");
            }

            list ??= inode.Xattrs = new XattrList();
            list.ChargedIspace += space;
            list.Set(name, value.ToArray());
            if (old is not null)
            {
                var freed = XattrList.Space(name, old.Length);
                list.ChargedIspace -= freed;
                inode.Sb.ReturnIspace(freed);
            }

            inode.CtimeNs = inode.Sb.NowNs();
        }
    }

    public static void Remove(Inode inode, string name, Credentials cred)
    {
        CheckImport(name);
        lock (inode)
        {
            CheckPermission(inode, name, Write, cred);
            CheckNamespace(name);
            var old = inode.Xattrs?.Remove(name) ?? TmpfsException.Throw<byte[]>(Errno.ENODATA, $"no attribute '{name}'");
            var freed = XattrList.Space(name, old.Length);
            inode.Xattrs!.ChargedIspace -= freed;
            inode.Sb.ReturnIspace(freed);
            inode.CtimeNs = inode.Sb.NowNs();
        }
    }

    /// <summary>listxattr: trusted.* names are shown only to CAP_SYS_ADMIN.</summary>
    public static List<string> List(Inode inode, Credentials cred)
    {
        var names = new List<string>();
        lock (inode)
        {
            if (inode.Xattrs is { } list)
            {
                foreach (var (name, _) in list.Items)
                {
                    if (!cred.IsRoot && name.StartsWith("trusted.", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    names.Add(name);
                }
            }
        }

        return names;
    }

    /// <summary>The names as listxattr(2) returns them: each followed by a NUL.</summary>
    public static int ListInto(Inode inode, Span<byte> buffer, Credentials cred)
    {
        var names = List(inode, cred);
        var total = 0;
        foreach (var n in names)
        {
            total += Encoding.UTF8.GetByteCount(n) + 1;
        }

        if (buffer.Length == 0)
        {
            return total;
        }

        if (buffer.Length < total)
        {
            TmpfsException.Throw(Errno.ERANGE, "buffer too small for the attribute list");
        }

        var at = 0;
        foreach (var n in names)
        {
            at += Encoding.UTF8.GetBytes(n, buffer[at..]);
            buffer[at++] = 0;
        }

        return total;
    }

    /// <summary>
    /// What the syscall checks while copying its arguments in, before the path is resolved:
    /// the name (ERANGE when empty or longer than 255 bytes).
    /// </summary>
    public static void CheckImport(string name)
    {
        var length = Encoding.UTF8.GetByteCount(name);
        if (length == 0 || length > XattrList.MaxNameLength)
        {
            TmpfsException.Throw(Errno.ERANGE, "attribute name empty or longer than 255 bytes");
        }
    }

    /// <summary>setxattr_copy: flags (EINVAL), name (ERANGE), value size (E2BIG), all before the path lookup.</summary>
    public static void CheckSetImport(string name, int valueLength, XattrFlags flags)
    {
        if ((flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0)
        {
            TmpfsException.Throw(Errno.EINVAL, "bad xattr flags");
        }

        CheckImport(name);
        if (valueLength > XattrList.MaxValueSize)
        {
            TmpfsException.Throw(Errno.E2BIG, "attribute value too large");
        }
    }

    /// <summary>xattr_resolve_name: after xattr_permission, an unknown namespace is EOPNOTSUPP, a bare prefix EINVAL.</summary>
    private static void CheckNamespace(string name)
    {
        string prefix;
        if (name.StartsWith("user.", StringComparison.Ordinal))
        {
            prefix = "user.";
        }
        else if (name.StartsWith("trusted.", StringComparison.Ordinal))
        {
            prefix = "trusted.";
        }
        else if (name.StartsWith("security.", StringComparison.Ordinal))
        {
            prefix = "security.";
        }
        else
        {
            TmpfsException.Throw(Errno.EOPNOTSUPP, $"attribute namespace of '{name}' not supported");
            return;
        }

        if (name.Length == prefix.Length)
        {
            TmpfsException.Throw(Errno.EINVAL, "attribute name has no suffix");
        }
    }

    /// <summary>xattr_permission().</summary>
    private static void CheckPermission(Inode inode, string name, int mask, Credentials cred)
    {
        if (name.StartsWith("trusted.", StringComparison.Ordinal))
        {
            if (!cred.IsRoot)
            {
                TmpfsException.Throw(mask == Write ? Errno.EPERM : Errno.ENODATA, "trusted attributes need CAP_SYS_ADMIN");
            }

            return;
        }

        if (name.StartsWith("user.", StringComparison.Ordinal))
        {
            if (!inode.IsRegular && !inode.IsDirectory)
            {
                TmpfsException.Throw(mask == Write ? Errno.EPERM : Errno.ENODATA, "user attributes only on files and directories");
            }

            if (mask == Write && inode.IsDirectory && (inode.Mode & FileModes.Sticky) != 0 && !Permission.IsOwner(inode, cred))
            {
                TmpfsException.Throw(Errno.EPERM, "sticky directory: not the owner");
            }

            Permission.Check(inode, mask == Write ? AccessMode.Write : AccessMode.Read, cred);
            return;
        }

        if (!name.StartsWith("security.", StringComparison.Ordinal))
        {
            // Any other namespace: inode_permission, before xattr_resolve_name says EOPNOTSUPP.
            Permission.Check(inode, mask == Write ? AccessMode.Write : AccessMode.Read, cred);
            return;
        }

        // security.*: xattr_permission leaves it to the LSM; the capability module's
        // cap_inode_setxattr/cap_inode_removexattr want CAP_SYS_ADMIN to write, reading is free.
        if (mask == Write && !cred.IsRoot)
        {
            TmpfsException.Throw(Errno.EPERM, "security attributes need CAP_SYS_ADMIN to change");
        }
    }
}
