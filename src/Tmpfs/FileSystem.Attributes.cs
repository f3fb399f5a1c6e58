using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>chmod, chown, utimens, truncate and the xattr calls by path.</summary>
public sealed partial class FileSystem
{
    /// <summary>chmod(2): owner or root (EPERM); set-gid dropped for a caller outside the file's group.</summary>
    public void Chmod(string path, int mode, Credentials? cred = null) =>
        InodeAttributes.Chmod(Resolve(path, cred, follow: true), mode, Caller(cred));

    /// <summary>chown(2)/lchown(2); uint.MaxValue leaves an id unchanged.</summary>
    public void Chown(string path, uint uid, uint gid, Credentials? cred = null, bool follow = true) =>
        InodeAttributes.Chown(Resolve(path, cred, follow), uid, gid, Caller(cred));

    /// <summary>utimensat(2) with <see cref="Timespec.Now"/> and <see cref="Timespec.Omit"/>.</summary>
    public void Utimens(string path, Timespec atime, Timespec mtime, Credentials? cred = null, bool follow = true)
    {
        // utimensat: with both times UTIME_OMIT there is nothing to do, and the path is not even looked up.
        if (atime.IsOmit && mtime.IsOmit)
        {
            return;
        }

        InodeAttributes.Utimens(Resolve(path, cred, follow), atime, mtime, Caller(cred));
    }

    /// <summary>truncate(2): needs write permission on the file.</summary>
    public void Truncate(string path, long size, Credentials? cred = null)
    {
        var c = Caller(cred);
        var inode = Resolve(path, cred, follow: true);
        if (inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        Permission.Check(inode, AccessMode.Write, c);
        InodeAttributes.Truncate(inode, size, c);
    }

    /// <summary>setxattr(2).</summary>
    public void SetXattr(string path, string name, ReadOnlySpan<byte> value, XattrFlags flags = XattrFlags.None, Credentials? cred = null, bool follow = true) =>
        XattrOps.Set(Resolve(path, cred, follow), name, value, flags, Caller(cred));

    /// <summary>getxattr(2): the value's length; with an empty buffer only the length, ERANGE if too small.</summary>
    public int GetXattr(string path, string name, Span<byte> buffer, Credentials? cred = null, bool follow = true) =>
        XattrOps.Get(Resolve(path, cred, follow), name, buffer, Caller(cred));

    /// <summary>The value of an attribute, read whole.</summary>
    public byte[] GetXattr(string path, string name, Credentials? cred = null, bool follow = true)
    {
        var inode = Resolve(path, cred, follow);
        var c = Caller(cred);
        while (true)
        {
            var buffer = new byte[XattrOps.Get(inode, name, [], c)];
            try
            {
                var n = buffer.Length == 0 ? 0 : XattrOps.Get(inode, name, buffer, c);
                return buffer.AsSpan(0, n).ToArray();
            }
            catch (TmpfsException e) when (e.Errno == Errno.ERANGE)
            {
                // It grew between the two calls; ask again.
            }
        }
    }

    /// <summary>listxattr(2) as a list of names.</summary>
    public IReadOnlyList<string> ListXattr(string path, Credentials? cred = null, bool follow = true) =>
        XattrOps.List(Resolve(path, cred, follow), Caller(cred));

    /// <summary>listxattr(2) into a buffer of NUL-terminated names; empty buffer = size needed.</summary>
    public int ListXattr(string path, Span<byte> buffer, Credentials? cred = null, bool follow = true) =>
        XattrOps.ListInto(Resolve(path, cred, follow), buffer, Caller(cred));

    /// <summary>removexattr(2).</summary>
    public void RemoveXattr(string path, string name, Credentials? cred = null, bool follow = true) =>
        XattrOps.Remove(Resolve(path, cred, follow), name, Caller(cred));

    private Inode Resolve(string path, Credentials? cred, bool follow)
    {
        using (EnterRead())
        {
            return PathWalk.Lookup(sb, path, Caller(cred), follow);
        }
    }
}
