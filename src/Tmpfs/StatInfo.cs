namespace Tmpfs;

/// <summary>What stat(2) reports of an inode.</summary>
public readonly record struct StatInfo
{
    public long Ino { get; init; }

    public uint Generation { get; init; }

    /// <summary>st_mode: file type and permission bits.</summary>
    public int Mode { get; init; }

    public uint Nlink { get; init; }

    public uint Uid { get; init; }

    public uint Gid { get; init; }

    /// <summary>Device number of a character or block device node.</summary>
    public ulong Rdev { get; init; }

    public long Size { get; init; }

    /// <summary>st_blocks: 512-byte units allocated (resident and swapped pages).</summary>
    public long Blocks { get; init; }

    /// <summary>st_blksize: the page size.</summary>
    public int BlockSize { get; init; }

    public Timespec Atime { get; init; }

    public Timespec Mtime { get; init; }

    public Timespec Ctime { get; init; }

    /// <summary>Birth time (statx STATX_BTIME).</summary>
    public Timespec Btime { get; init; }

    public int FileType => Mode & FileModes.TypeMask;

    public bool IsDirectory => FileModes.IsDirectory(Mode);

    public bool IsRegular => FileModes.IsRegular(Mode);

    public bool IsSymlink => FileModes.IsSymlink(Mode);
}

/// <summary>What statfs(2) reports of a mount.</summary>
public readonly record struct StatFs
{
    /// <summary>TMPFS_MAGIC.</summary>
    public const long TmpfsMagic = 0x01021994;

    public long Type { get; init; }

    public int BlockSize { get; init; }

    /// <summary>Total blocks; 0 when the mount has no size limit.</summary>
    public long Blocks { get; init; }

    public long BlocksFree { get; init; }

    public long BlocksAvailable { get; init; }

    /// <summary>Total inodes; 0 when the mount has no inode limit.</summary>
    public long Files { get; init; }

    public long FilesFree { get; init; }

    public int NameLength { get; init; }

    public int FragmentSize { get; init; }
}

/// <summary>One entry returned by readdir.</summary>
/// <param name="Name">The entry's name.</param>
/// <param name="Ino">Its inode number.</param>
/// <param name="Type">Its file type (S_IFMT bits).</param>
/// <param name="NextCookie">The cookie to pass to continue after this entry; stable while the directory changes.</param>
public readonly record struct DirectoryEntry(string Name, long Ino, int Type, long NextCookie);

/// <summary>
/// Receives one directory entry (and, when asked for, its attributes); returns false to
/// stop before this entry, which then counts as not read. It runs with the mount's namespace
/// lock held for reading (as the kernel's filldir runs under the directory's i_rwsem), so it
/// must not call back into the filesystem: copy the entry out and return.
/// </summary>
public delegate bool DirectoryVisitor(in DirectoryEntry entry, in StatInfo attributes);
