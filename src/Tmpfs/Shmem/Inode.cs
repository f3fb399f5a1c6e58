using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// A tmpfs inode with its shmem_inode_info. Regular files own a page cache (the
/// inode is its own address space, as inode->i_data is embedded in the kernel),
/// directories a <see cref="DirectoryContents"/>, symlinks their target.
/// </summary>
/// <remarks>
/// Locking: the Monitor of the inode object is its i_rwsem (taken by write, truncate,
/// fallocate, setattr and SEEK_DATA; reads take it too, so a read never sees a half
/// truncated page). Namespace fields (<see cref="Nlink"/>, directory contents) are
/// guarded by the superblock's namespace lock. Lock order: namespace lock -> inode
/// lock -> page lock -> mapping lock (<see cref="MappingLock"/>) -> superblock stat counters.
/// </remarks>
internal sealed class Inode : AddressSpace
{
    public const long BogoDirentSize = 20; // BOGO_DIRENT_SIZE: a directory's i_size grows by this per entry

    public Inode(Superblock sb, long ino, uint generation, int mode, uint uid, uint gid, long nowNs)
    {
        Sb = sb;
        Ino = ino;
        Generation = generation;
        Mode = mode;
        Uid = uid;
        Gid = gid;
        AtimeNs = MtimeNs = CtimeNs = BtimeNs = nowNs;
    }

    public Superblock Sb { get; }

    public long Ino { get; }

    public uint Generation { get; }

    public int Mode;
    public uint Uid;
    public uint Gid;
    public uint Nlink;
    public long Size;
    public long AtimeNs;
    public long MtimeNs;
    public long CtimeNs;
    public long BtimeNs;

    /// <summary>The page cache of a regular file: index -> frame or swap entry (guarded by <see cref="MappingLock"/>).</summary>
    public PageCacheTree Pages;

    /// <summary>Pages charged to this inode (info->alloced): resident plus swapped.</summary>
    public long Alloced;

    private InodeSwapState? swap;

    /// <summary>The swap state, made on first use (an inode that never swaps has none).</summary>
    public InodeSwapState Swap =>
        Volatile.Read(ref swap) ?? Interlocked.CompareExchange(ref swap, new InodeSwapState(), null) ?? swap!;

    private RareInodeFields Rare =>
        Volatile.Read(ref rare) ?? Interlocked.CompareExchange(ref rare, new RareInodeFields(), null) ?? rare!;

    /// <summary>The swap state if the inode has one, else null (it never had a page on swap).</summary>
    public InodeSwapState? SwapStateOrNull => Volatile.Read(ref swap);

    /// <summary>Pages of this inode on swap (info->swapped).</summary>
    public long Swapped => SwapStateOrNull is { } s ? Volatile.Read(ref s.Swapped) : 0;

    /// <summary>On the swaplist (read without the swaplist lock, as shmem_evict_inode's list_empty).</summary>
    public bool OnSwaplist => SwapStateOrNull is { } s && Volatile.Read(ref s.OnSwaplist);

    /// <summary>Swapoff holds the inode (info->stop_eviction); read as <see cref="OnSwaplist"/>.</summary>
    public int StopEviction => SwapStateOrNull is { } s ? Volatile.Read(ref s.StopEviction) : 0;

    /// <summary>The next inode on the swaplist (swaplist lock held).</summary>
    public Inode? SwapNext => SwapStateOrNull?.Next;

    /// <summary>Counts pages going to or coming from swap, in the inode and its mount.</summary>
    public void AddSwapped(int delta)
    {
        Interlocked.Add(ref Swap.Swapped, delta);
        Interlocked.Add(ref Sb.SwappedPages, delta);
    }

    public DirectoryContents? Dir;

    private RareInodeFields? rare;

    /// <summary>A device node's number (0 for every other inode).</summary>
    public ulong Rdev
    {
        get => Volatile.Read(ref rare)?.Rdev ?? 0;
        set
        {
            if (value != 0 || Volatile.Read(ref rare) is not null)
            {
                Rare.Rdev = value;
            }
        }
    }

    /// <summary>A symlink's target as stored bytes (UTF-8 with escaped invalid bytes).</summary>
    public string? LinkTarget
    {
        get => Volatile.Read(ref rare)?.LinkTarget;
        set
        {
            if (value is not null || Volatile.Read(ref rare) is not null)
            {
                Rare.LinkTarget = value;
            }
        }
    }

    /// <summary>The extended attributes, or null while there are none (inode lock held to change).</summary>
    public XattrList? Xattrs
    {
        get => Volatile.Read(ref rare)?.Xattrs;
        set
        {
            if (value is not null || Volatile.Read(ref rare) is not null)
            {
                Rare.Xattrs = value;
            }
        }
    }

    /// <summary>Open handles (files and directories).</summary>
    public int OpenCount;

    /// <summary>
    /// The kernel's nlookup for a FUSE mount: entries handed out by the node API
    /// (lookup, create, readdirplus, ...) minus those forgotten. Changed with Interlocked;
    /// while it is above zero the inode is not evicted, so node ids stay valid.
    /// </summary>
    public long Lookups;

    /// <summary>Set when the inode has been evicted: its pages are freed and it is gone from the superblock.</summary>
    public bool Evicted;

    /// <summary>The mapping lock (the xarray's xa_lock): guards <see cref="Pages"/> against reclaim.</summary>
    public Spinlock MappingLock => Sb.MappingLock;

    public int FileType => Mode & FileModes.TypeMask;

    public bool IsDirectory => (Mode & FileModes.TypeMask) == FileModes.Directory;

    public bool IsRegular => (Mode & FileModes.TypeMask) == FileModes.Regular;

    public bool IsSymlink => (Mode & FileModes.TypeMask) == FileModes.Symlink;

    /// <summary>Blocks in 512-byte units, as st_blocks.</summary>
    public long Blocks => Alloced * (PageFrames.PageSize / 512);

    /// <summary>shmem_writepage, called by reclaim: see <see cref="ShmemSwap.WritePage"/>.</summary>
    public override bool WritePage(int pfn, SwapWriteBatch io) => Sb.Memory.WritePageImpl(this, pfn, io);

    public override void WritePageFailed(int pfn, SwapEntry entry, long index) => ShmemSwap.WritePageFailed(this, pfn, entry, index);

    public StatInfo ToStat() => new()
    {
        Ino = Ino,
        Generation = Generation,
        Mode = Mode,
        Nlink = Nlink,
        Uid = Uid,
        Gid = Gid,
        Rdev = Rdev,
        Size = Size,
        Blocks = Blocks,
        BlockSize = PageFrames.PageSize,
        Atime = Timespec.FromNanoseconds(AtimeNs),
        Mtime = Timespec.FromNanoseconds(MtimeNs),
        Ctime = Timespec.FromNanoseconds(CtimeNs),
        Btime = Timespec.FromNanoseconds(BtimeNs),
    };
}
