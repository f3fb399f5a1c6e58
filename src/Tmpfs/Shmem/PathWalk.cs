using System.Text;

namespace Tmpfs.Shmem;

/// <summary>
/// Path resolution (fs/namei.c): components walked from the mount's root, search
/// permission checked on every directory passed, symlinks followed up to 40 times
/// (ELOOP), "." and ".." (which stops at the root), trailing slashes requiring a
/// directory. Absolute symlink targets resolve from the mount's root. Callers hold
/// the namespace lock (read or write).
/// </summary>
internal static class PathWalk
{
    public const int NameMax = 255; // NAME_MAX, in bytes
    public const int PathMax = 4096; // PATH_MAX, including the NUL
    public const int MaxSymlinks = 40; // MAXSYMLINKS

    /// <summary>The kind of the last component, as the kernel's LAST_NORM/LAST_DOT/LAST_DOTDOT.</summary>
    public enum LastType
    {
        Normal,
        Dot,
        DotDot,
        Root,
    }

    /// <summary>What a parent lookup found: the directory, the final name, and how the path ended.</summary>
    public readonly record struct ParentResult(Inode Dir, string Name, LastType Type, bool TrailingSlash);

    /// <summary>A parent lookup's result with the final name as a range of the path (no string made).</summary>
    public readonly record struct ParentSpan(Inode Dir, int NameStart, int NameLength, LastType Type, bool TrailingSlash)
    {
        public ReadOnlySpan<char> NameIn(string path) => path.AsSpan(NameStart, NameLength);
    }

    /// <summary>Resolves a whole path to its inode (ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG).</summary>
    public static Inode Lookup(Superblock sb, string path, Credentials cred, bool followFinal)
    {
        var symlinks = 0;
        return Lookup(sb, sb.Root, path, cred, followFinal, ref symlinks);
    }

    /// <summary>
    /// Resolves all but the last component (filename_parentat), checking search permission
    /// on the directory that holds it. The last name is not looked up.
    /// </summary>
    public static ParentResult LookupParent(Superblock sb, string path, Credentials cred)
    {
        var symlinks = 0;
        return LookupParent(sb, sb.Root, path, cred, ref symlinks);
    }

    /// <summary>
    /// <see cref="LookupParent(Superblock, string, Credentials)"/> for a caller that only looks
    /// the last name up or removes it (unlink): the name stays a range of the path.
    /// </summary>
    public static ParentSpan LookupParentSpan(Superblock sb, string path, Credentials cred)
    {
        var symlinks = 0;
        return WalkParent(sb, sb.Root, path, cred, ref symlinks);
    }

    /// <summary>Checks a single name given to an engine call (EINVAL for '/' or NUL, ENAMETOOLONG past 255 bytes).</summary>
    public static void CheckName(string name)
    {
        if (name.Length == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "empty name");
        }

        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
        {
            TmpfsException.Throw(Errno.EINVAL, $"name '{name}' contains '/' or NUL");
        }

        if (name.Length > NameMax / 3 && Encoding.UTF8.GetByteCount(name) > NameMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "name longer than 255 bytes");
        }
    }

    private static Inode Lookup(Superblock sb, Inode start, string path, Credentials cred, bool followFinal, ref int symlinks)
    {
        var parent = WalkParent(sb, start, path, cred, ref symlinks);
        var dir = parent.Dir;
        Inode inode;
        switch (parent.Type)
        {
            case LastType.Root:
                return dir;
            case LastType.Dot:
                Permission.Check(dir, AccessMode.Execute, cred);
                return dir;
            case LastType.DotDot:
                Permission.Check(dir, AccessMode.Execute, cred);
                return dir.Dir!.Parent;
            default:
                Permission.Check(dir, AccessMode.Execute, cred);
                var name = path.AsSpan(parent.NameStart, parent.NameLength);
                inode = dir.Dir!.Lookup(name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file or directory: '{name}'");
                break;
        }

        if (inode.IsSymlink && (followFinal || parent.TrailingSlash))
        {
            inode = FollowLink(sb, dir, inode, cred, ref symlinks);
        }

        if (parent.TrailingSlash && !inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory (trailing slash)");
        }

        return inode;
    }

    private static ParentResult LookupParent(Superblock sb, Inode start, string path, Credentials cred, ref int symlinks)
    {
        var parent = WalkParent(sb, start, path, cred, ref symlinks);
        var name = parent.Type == LastType.Root ? "."
            : parent.NameLength == path.Length ? path
            : path.Substring(parent.NameStart, parent.NameLength);
        return new ParentResult(parent.Dir, name, parent.Type, parent.TrailingSlash);
    }

    private static ParentSpan WalkParent(Superblock sb, Inode start, string path, Credentials cred, ref int symlinks)
    {
        if (path.Length == 0)
        {
            TmpfsException.Throw(Errno.ENOENT, "empty path");
        }

        // At most 3 UTF-8 bytes per UTF-16 char, so short paths need no count.
        if (path.Length >= PathMax / 3 && Encoding.UTF8.GetByteCount(path) >= PathMax)
        {
            TmpfsException.Throw(Errno.ENAMETOOLONG, "path longer than PATH_MAX");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            TmpfsException.Throw(Errno.EINVAL, "path contains NUL");
        }

        var dir = path[0] == '/' ? sb.Root : start;
        var span = path.AsSpan();
        var pos = 0;
        while (true)
        {
            while (pos < span.Length && span[pos] == '/')
            {
                pos++;
            }

            if (pos >= span.Length)
            {
                // Only slashes: the path names the starting directory itself.
                return new ParentSpan(dir, 0, 0, LastType.Root, true);
            }

            var end = span[pos..].IndexOf('/');
            var nameEnd = end < 0 ? span.Length : pos + end;
            var next = nameEnd;
            while (next < span.Length && span[next] == '/')
            {
                next++;
            }

            var component = span[pos..nameEnd];
            var isLast = next >= span.Length;

            // link_path_walk: may_lookup (search permission) on the directory before every
            // component, the last one included, whatever the caller then does with the name.
            // A name longer than NAME_MAX is only an error when it is looked up.
            Permission.Check(dir, AccessMode.Execute, cred);
            if (isLast)
            {
                var trailing = nameEnd < span.Length;
                var type = component switch
                {
                    "." => LastType.Dot,
                    ".." => LastType.DotDot,
                    _ => LastType.Normal,
                };
                return new ParentSpan(dir, pos, nameEnd - pos, type, trailing);
            }

            // An intermediate component: must be a searchable directory.
            Inode child;
            if (component is ".")
            {
                child = dir;
            }
            else if (component is "..")
            {
                child = dir.Dir!.Parent;
            }
            else
            {
                child = dir.Dir!.Lookup(component) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file or directory: '{component}'");
                if (child.IsSymlink)
                {
                    child = FollowLink(sb, dir, child, cred, ref symlinks);
                }
            }

            if (!child.IsDirectory)
            {
                TmpfsException.Throw(Errno.ENOTDIR, $"not a directory: '{component}'");
            }

            dir = child;
            pos = next;
        }
    }

    private static Inode FollowLink(Superblock sb, Inode dir, Inode link, Credentials cred, ref int symlinks)
    {
        while (link.IsSymlink)
        {
            if (++symlinks > MaxSymlinks)
            {
                TmpfsException.Throw(Errno.ELOOP, "too many levels of symbolic links");
            }

            // pick_link: following a symlink touches its atime (relatime rules).
            lock (link)
            {
                InodeAttributes.Accessed(link);
            }

            var target = link.LinkTarget!;
            link = Lookup(sb, dir, target, cred, followFinal: true, ref symlinks);
        }

        return link;
    }
}
