using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// The filesystem by node: every call names inodes by number (the node id; the root is
/// <see cref="RootId"/>) and a parent plus a single name instead of a path, as the
/// kernel's VFS calls a filesystem and as FUSE speaks. Each call shares its core with the
/// path call of the same name, so permission checks, errnos and timestamps are the same.
/// </summary>
/// <remarks>
/// Lookup counts: every call that returns an entry (<see cref="Lookup"/>, <see cref="Mkdir"/>,
/// <see cref="Mknod"/>, <see cref="Symlink"/>, <see cref="Link"/>, <see cref="Create"/>,
/// <see cref="CreateTemporary"/>, and <see cref="ReadDirectory"/> with lookups) adds one to
/// the inode's lookup count (the kernel's nlookup), and <see cref="Forget"/> takes them back.
/// An inode lives while it has a name, an open handle or a lookup, so a node id stays valid
/// until it is forgotten. Inode numbers are never reused within a mount; the generation is
/// random per inode.
/// </remarks>
public sealed partial class NodeOperations
{
    /// <summary>The root directory's node id.</summary>
    public const long RootId = 1;

    private readonly FileSystem fs;

    internal NodeOperations(FileSystem fs)
    {
        this.fs = fs;
    }

    private Superblock Sb => fs.Superblock;

    /// <summary>lookup: the entry <paramref name="name"/> in a directory ("." and ".." included), with one lookup taken.</summary>
    public StatInfo Lookup(long parent, string name, Credentials cred)
    {
        using (fs.EnterRead())
        {
            var dir = Directory(parent);
            Permission.Check(dir, AccessMode.Execute, cred);
            var inode = name switch
            {
                "." => dir,
                ".." => dir.Dir!.Parent,
                _ => LookupName(dir, name),
            };
            return Referenced(inode);
        }
    }

    /// <summary>forget: drops <paramref name="count"/> lookups; an inode with no name, handle or lookup left is evicted.</summary>
    public void Forget(long node, long count)
    {
        if (Sb.FindInode(node) is not { } inode || count <= 0)
        {
            return;
        }

        var left = Interlocked.Add(ref inode.Lookups, -count);
        if (left < 0)
        {
            // The kernel forgot more than it was given: a protocol bug; never go negative.
            Interlocked.Add(ref inode.Lookups, -left);
            left = 0;
        }

        if (left == 0 && inode.Nlink == 0)
        {
            Sb.EvictIfUnused(inode);
        }
    }

    /// <summary>The lookup count of a node (0 when it is gone), for tests and diagnostics.</summary>
    public long LookupCount(long node) => Sb.FindInode(node) is { } inode ? Volatile.Read(ref inode.Lookups) : 0;

    /// <summary>getattr.</summary>
    public StatInfo GetAttributes(long node)
    {
        var inode = Node(node);
        lock (inode)
        {
            return inode.ToStat();
        }
    }

    /// <summary>
    /// setattr: owner, mode, size, times, in that order, each with the checks of the
    /// matching call (chown, chmod, truncate or ftruncate when <paramref name="handle"/> is
    /// given, utimensat). Returns the attributes afterwards.
    /// </summary>
    public StatInfo SetAttributes(long node, in AttributeChanges changes, Credentials cred, FileHandle? handle = null)
    {
        var inode = handle?.Inode ?? Node(node);
        if (changes.Uid is not null || changes.Gid is not null)
        {
            InodeAttributes.Chown(inode, changes.Uid ?? uint.MaxValue, changes.Gid ?? uint.MaxValue, cred);
        }

        if (changes.Mode is { } mode)
        {
            InodeAttributes.Chmod(inode, mode, cred);
        }
        else if (changes.KillSuidGid)
        {
            lock (inode)
            {
                Permission.KillPrivs(inode, cred);
            }
        }

        if (changes.Size is { } size)
        {
            if (handle is not null)
            {
                handle.Truncate(size);
            }
            else
            {
                FileSystem.TruncateOf(inode, size, cred);
            }
        }

        if (!changes.Atime.IsOmit || !changes.Mtime.IsOmit)
        {
            InodeAttributes.Utimens(inode, changes.Atime, changes.Mtime, cred);
        }

        lock (inode)
        {
            return inode.ToStat();
        }
    }

    /// <summary>readlink: EINVAL for a node that is not a symlink.</summary>
    public string ReadLink(long node) => FileSystem.ReadLinkOf(Node(node));

    /// <summary>access(2) on a node.</summary>
    public void Access(long node, AccessMode mode, Credentials cred) => FileSystem.AccessOf(Node(node), mode, cred);

    /// <summary>mkdir in a directory; the new directory's entry, with one lookup taken.</summary>
    public StatInfo Mkdir(long parent, string name, int mode, Credentials cred)
    {
        using (fs.EnterWrite())
        {
            var dir = CreateTarget(parent, name, cred);
            return Referenced(fs.MkdirIn(dir, name, mode, cred));
        }
    }

    /// <summary>mknod in a directory (S_IFREG when the type bits are 0).</summary>
    public StatInfo Mknod(long parent, string name, int mode, ulong rdev, Credentials cred)
    {
        var type = FileSystem.MknodType(mode);
        using (fs.EnterWrite())
        {
            var dir = CreateTarget(parent, name, cred);
            return Referenced(fs.MknodIn(dir, name, type, mode, rdev, cred));
        }
    }

    /// <summary>symlink: <paramref name="name"/> in <paramref name="parent"/> pointing at <paramref name="target"/>.</summary>
    public StatInfo Symlink(long parent, string name, string target, Credentials cred)
    {
        FileSystem.CheckSymlinkTarget(target);
        using (fs.EnterWrite())
        {
            var dir = CreateTarget(parent, name, cred);
            return Referenced(fs.SymlinkIn(dir, name, target, cred));
        }
    }

    /// <summary>link: a new name for <paramref name="node"/>; an unlinked inode (O_TMPFILE) may be linked while open.</summary>
    public StatInfo Link(long node, long newParent, string newName, Credentials cred)
    {
        using (fs.EnterWrite())
        {
            var inode = Node(node);
            if (inode.IsDirectory)
            {
                TmpfsException.Throw(Errno.EPERM, "hard link to a directory");
            }

            var dir = CreateTarget(newParent, newName, cred);
            return Referenced(fs.LinkIn(inode, dir, newName, cred));
        }
    }

    /// <summary>unlink.</summary>
    public void Unlink(long parent, string name, Credentials cred)
    {
        PathWalk.CheckName(name);
        using (fs.EnterWrite())
        {
            fs.UnlinkIn(Directory(parent), name, trailingSlash: false, cred);
        }
    }

    /// <summary>rmdir.</summary>
    public void Rmdir(long parent, string name, Credentials cred)
    {
        switch (name)
        {
            case ".":
                TmpfsException.Throw(Errno.EINVAL, "cannot remove '.'");
                break;
            case "..":
                TmpfsException.Throw(Errno.ENOTEMPTY, "cannot remove '..'");
                break;
        }

        PathWalk.CheckName(name);
        using (fs.EnterWrite())
        {
            fs.RmdirIn(Directory(parent), name, cred);
        }
    }

    /// <summary>renameat2 with NOREPLACE, EXCHANGE and WHITEOUT.</summary>
    public void Rename(long oldParent, string oldName, long newParent, string newName, RenameFlags flags, Credentials cred)
    {
        FileSystem.CheckRenameFlags(flags);
        if (oldName is "." or ".." || newName is "." or "..")
        {
            TmpfsException.Throw(Errno.EBUSY, "cannot rename '.' or '..'");
        }

        PathWalk.CheckName(oldName);
        PathWalk.CheckName(newName);
        using (fs.EnterWrite())
        {
            fs.RenameIn(Directory(oldParent), oldName, false, Directory(newParent), newName, false, flags, cred);
        }
    }

    /// <summary>open of an existing node (O_CREAT and O_EXCL are ignored: the kernel resolved the name).</summary>
    public FileHandle Open(long node, OpenFlags flags, Credentials cred)
    {
        flags &= ~(OpenFlags.Create | OpenFlags.Exclusive);
        if ((flags & OpenFlags.TmpFile) == OpenFlags.TmpFile)
        {
            TmpfsException.Throw(Errno.EINVAL, "O_TMPFILE goes through CreateTemporary");
        }

        using (fs.EnterRead())
        {
            return fs.FinishOpen(Node(node), flags, cred, created: false);
        }
    }

    /// <summary>
    /// open with O_CREAT of <paramref name="name"/> in <paramref name="parent"/>: creates a
    /// regular file owned by the caller, or opens the existing one (EEXIST with O_EXCL).
    /// <paramref name="entry"/> is the file's entry, with one lookup taken.
    /// </summary>
    public FileHandle Create(long parent, string name, OpenFlags flags, int mode, Credentials cred, out StatInfo entry)
    {
        PathWalk.CheckName(name);
        using (fs.EnterWrite())
        {
            var dir = Directory(parent);
            var (inode, created) = fs.CreateIn(dir, name, flags | OpenFlags.Create, mode, cred);
            if (!created && inode.IsSymlink)
            {
                TmpfsException.Throw(Errno.ELOOP, "O_CREAT of an existing symbolic link by node");
            }

            var handle = fs.FinishOpen(inode, flags & ~(OpenFlags.Create | OpenFlags.Exclusive), cred, created);
            entry = Referenced(inode);
            return handle;
        }
    }

    /// <summary>open(dir, O_TMPFILE): an unnamed file in <paramref name="parent"/>; its entry takes one lookup.</summary>
    public FileHandle CreateTemporary(long parent, OpenFlags flags, int mode, Credentials cred, out StatInfo entry)
    {
        flags |= OpenFlags.TmpFile;
        FileSystem.CheckTmpfileFlags(flags);
        using (fs.EnterWrite())
        {
            var handle = fs.TmpfileIn(Node(parent), flags, mode, cred);
            entry = Referenced(handle.Inode);
            return handle;
        }
    }

    /// <summary>opendir.</summary>
    public DirectoryHandle OpenDirectory(long node, Credentials cred)
    {
        using (fs.EnterRead())
        {
            return fs.OpenDirectoryOf(Node(node), cred);
        }
    }

    /// <summary>
    /// readdir/readdirplus from <paramref name="cookie"/>: entries go to <paramref name="visitor"/>
    /// until it refuses one. With <paramref name="plus"/> each comes with its attributes and
    /// every accepted entry but "." and ".." takes one lookup. The visitor runs under the
    /// namespace lock and must not call back into the filesystem (see <see cref="DirectoryVisitor"/>).
    /// </summary>
    public int ReadDirectory(DirectoryHandle directory, long cookie, bool plus, DirectoryVisitor visitor) =>
        directory.Visit(cookie, visitor, withAttributes: plus, addLookup: plus);

    /// <summary>setxattr.</summary>
    public void SetXattr(long node, string name, ReadOnlySpan<byte> value, XattrFlags flags, Credentials cred) =>
        XattrOps.Set(Node(node), name, value, flags, cred);

    /// <summary>getxattr: the value's length; an empty buffer asks for the length only, ERANGE when too small.</summary>
    public int GetXattr(long node, string name, Span<byte> buffer, Credentials cred) =>
        XattrOps.Get(Node(node), name, buffer, cred);

    /// <summary>listxattr into NUL-terminated names; an empty buffer asks for the size.</summary>
    public int ListXattr(long node, Span<byte> buffer, Credentials cred) =>
        XattrOps.ListInto(Node(node), buffer, cred);

    /// <summary>removexattr.</summary>
    public void RemoveXattr(long node, string name, Credentials cred) =>
        XattrOps.Remove(Node(node), name, cred);

    /// <summary>The live inode of a node id (ENOENT once it is gone; the kernel turns that into ESTALE where it matters).</summary>
    private Inode Node(long node)
    {
        var inode = Sb.FindInode(node);
        if (inode is null || inode.Evicted)
        {
            TmpfsException.Throw(Errno.ENOENT, $"no inode {node}");
        }

        return inode;
    }

    private Inode Directory(long node)
    {
        var inode = Node(node);
        if (!inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.ENOTDIR, "not a directory");
        }

        return inode;
    }

    private static Inode LookupName(Inode dir, string name)
    {
        PathWalk.CheckName(name);
        return dir.Dir!.Lookup(name) ?? TmpfsException.Throw<Inode>(Errno.ENOENT, $"no such file or directory: '{name}'");
    }

    /// <summary>A parent for a create of <paramref name="name"/>, after every check a create makes.</summary>
    private Inode CreateTarget(long parent, string name, Credentials cred)
    {
        if (name is "." or "..")
        {
            TmpfsException.Throw(Errno.EEXIST, "file exists");
        }

        PathWalk.CheckName(name);
        var dir = Directory(parent);
        FileSystem.CheckCreate(dir, name, cred);
        return dir;
    }

    /// <summary>
    /// Takes one lookup on an inode and returns its attributes. Under the inode lock, so an
    /// eviction (which rechecks the count under the same lock) cannot free it meanwhile.
    /// </summary>
    private static StatInfo Referenced(Inode inode)
    {
        lock (inode)
        {
            if (inode.Evicted)
            {
                TmpfsException.Throw(Errno.ENOENT, "the inode is gone");
            }

            Interlocked.Increment(ref inode.Lookups);
            return inode.ToStat();
        }
    }
}

/// <summary>
/// The changes of one setattr: null (or <see cref="Timespec.Omit"/>) leaves a field as it is;
/// <see cref="Timespec.Now"/> sets a time to now.
/// </summary>
public readonly record struct AttributeChanges
{
    public AttributeChanges()
    {
    }

    public int? Mode { get; init; }

    public uint? Uid { get; init; }

    public uint? Gid { get; init; }

    public long? Size { get; init; }

    public Timespec Atime { get; init; } = Timespec.Omit;

    public Timespec Mtime { get; init; } = Timespec.Omit;

    /// <summary>Clear set-user-ID (and set-group-ID if group-executable) as a write by the caller would.</summary>
    public bool KillSuidGid { get; init; }
}
