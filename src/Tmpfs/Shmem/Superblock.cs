using System.Diagnostics;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// One mounted tmpfs (struct super_block with shmem_sb_info): its limits, its inodes,
/// the accounting of blocks and inode space, and unmount.
/// </summary>
/// <remarks>
/// Locks, outermost first: <see cref="NamespaceLock"/> (directory contents, link counts,
/// rename: the kernel's i_rwsem of directories plus s_vfs_rename_mutex, one per mount)
/// -> an inode's lock (its Monitor: i_rwsem of a file) -> page lock -> <see cref="MappingLock"/>
/// -> <see cref="statLock"/> (stat_lock: ispace, next_ino, the inode set).
/// Block usage is an atomic counter, as the kernel's percpu used_blocks.
/// </remarks>
internal sealed class Superblock
{
    public const long BogoInodeSize = 1024; // BOGO_INODE_SIZE: ispace charged per inode and per extra link
    public const long XattrOverhead = 40; // sizeof(struct simple_xattr) on 64-bit, charged with each xattr

    private readonly Spinlock statLock = new();
    private readonly InodeTable inodes = new();
    private long nextIno = 1;
    private long usedBlocks;
    private long freeIspace;
    private ulong generationState = (ulong)Random.Shared.NextInt64() | 1; // never 0 (xorshift's fixed point)

    public Superblock(MemoryManager memory, long maxBlocks, long maxInodes, bool noSwap)
    {
        Memory = memory;
        MaxBlocks = maxBlocks;
        MaxInodes = maxInodes;
        freeIspace = maxInodes * BogoInodeSize;
        NoSwap = noSwap;
    }

    public MemoryManager Memory { get; }

    public PageFrames Frames => Memory.Frames;

    /// <summary>Guards directory contents, link counts and rename (see the class remarks).</summary>
    public RwSemaphore NamespaceLock { get; } = new();

    /// <summary>The xa_lock of every mapping of this mount: page cache entries change under it.</summary>
    public Spinlock MappingLock { get; } = new();

    /// <summary>size= in pages; 0 = unlimited.</summary>
    public long MaxBlocks { get; private set; }

    /// <summary>nr_inodes=; 0 = unlimited.</summary>
    public long MaxInodes { get; private set; }

    public bool NoSwap { get; }

    public Inode Root { get; set; } = null!;

    /// <summary>
    /// The mount this superblock belongs to (tmpfs has one per superblock), which a closing
    /// handle tells (the handle reaches it through its inode instead of keeping a field).
    /// </summary>
    public FileSystem Mount { get; set; } = null!;

    public long UsedBlocks => Volatile.Read(ref usedBlocks);

    /// <summary>Inodes in use (root included), as statfs reports f_files - f_ffree.</summary>
    public long UsedInodes
    {
        get
        {
            using (statLock.Hold())
            {
                return inodes.Count;
            }
        }
    }

    public long FreeIspace
    {
        get
        {
            using (statLock.Hold())
            {
                return freeIspace;
            }
        }
    }

    /// <summary>Pages of this mount on swap (the sum of its inodes' swapped).</summary>
    public long SwappedPages;

    /// <summary>Open handles on this mount (files and directories).</summary>
    public int OpenHandles;

    /// <summary>Set once unmount has begun: new operations are refused.</summary>
    public volatile bool Unmounting;

    /// <summary>Set by a detached (lazy) unmount: teardown runs at the last close.</summary>
    public volatile bool Detached;

    private int teardownClaimed;

    /// <summary>True for the one caller (unmount or the last close) that tears the mount down.</summary>
    public bool ClaimTeardown() => Interlocked.Exchange(ref teardownClaimed, 1) == 0;

    /// <summary>current_time(): a coarse clock (see <see cref="CoarseClock"/>).</summary>
    public long NowNs() => Memory.Clock.NowNs();

    /// <summary>shmem_get_inode + shmem_reserve_inode: a new inode charged to ispace, or ENOSPC.</summary>
    public Inode NewInode(int mode, uint uid, uint gid, ulong rdev = 0)
    {
        var now = NowNs();
        Inode inode;
        using (statLock.Hold())
        {
            // One hold of stat_lock: charge ispace, take the number, enter the inode set.
            if (MaxInodes != 0)
            {
                if (freeIspace < BogoInodeSize)
                {
                    TmpfsException.Throw(Errno.ENOSPC, "no inodes left (nr_inodes)");
                }

                freeIspace -= BogoInodeSize;
            }

            inode = new Inode(this, nextIno++, NextGeneration(), mode, uid, gid, now) { Rdev = rdev };
            if (inode.IsDirectory)
            {
                inode.Dir = new DirectoryContents(inode);
                inode.Size = 2 * Inode.BogoDirentSize;
                inode.Nlink = 2;
            }
            else
            {
                inode.Nlink = 1;
            }

            inodes.Add(inode); // published whole, as before
        }

        return inode;
    }

    /// <summary>
    /// get_random_u32() for i_generation: xorshift64* stepped under the stat lock, seeded at
    /// random per mount (Random.Shared costs a thread-local lookup per inode).
    /// </summary>
    private uint NextGeneration()
    {
        Debug.Assert(statLock.IsHeldByCurrentThread, "stat lock not held");
        var x = generationState;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        generationState = x;
        return (uint)((x * 0x2545F4914F6CDD1DUL) >> 32);
    }

    /// <summary>shmem_reserve_inode for an extra hard link: links cost ispace too.</summary>
    public void ReserveLink()
    {
        using (statLock.Hold())
        {
            if (MaxInodes != 0)
            {
                if (freeIspace < BogoInodeSize)
                {
                    TmpfsException.Throw(Errno.ENOSPC, "no inode space left for a link (nr_inodes)");
                }

                freeIspace -= BogoInodeSize;
            }
        }
    }

    /// <summary>shmem_free_inode: returns ispace of an inode or a link.</summary>
    public void ReturnIspace(long amount)
    {
        using (statLock.Hold())
        {
            if (MaxInodes != 0)
            {
                freeIspace += amount;
            }
        }
    }

    /// <summary>Charges ispace for xattr bytes (shmem_xattr_handler_set); false when none is left.</summary>
    public bool TryChargeIspace(long amount)
    {
        using (statLock.Hold())
        {
            if (MaxInodes == 0)
            {
                return true;
            }

            if (freeIspace < amount)
            {
                return false;
            }

            freeIspace -= amount;
            return true;
        }
    }

    public Inode? FindInode(long ino)
    {
        using (statLock.Hold())
        {
            return inodes.Find(ino);
        }
    }

    /// <summary>shmem_inode_acct_blocks: charges pages against size=, or ENOSPC.</summary>
    public bool TryChargeBlocks(long pages)
    {
        if (MaxBlocks == 0)
        {
            Interlocked.Add(ref usedBlocks, pages);
            return true;
        }

        var used = Volatile.Read(ref usedBlocks);
        while (true)
        {
            if (used + pages > MaxBlocks)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref usedBlocks, used + pages, used);
            if (seen == used)
            {
                return true;
            }

            used = seen;
        }
    }

    public void UnchargeBlocks(long pages)
    {
        var now = Interlocked.Add(ref usedBlocks, -pages);
        Debug.Assert(now >= 0, "used blocks went negative");
    }

    /// <summary>
    /// shmem_evict_inode: the last link and the last open handle are gone. Frees every
    /// page (each locked first, so no reclaim of this mapping is in flight) and the ispace.
    /// </summary>
    public void Evict(Inode inode)
    {
        Interleaving.Enter(inode);
        bool done;
        try
        {
            done = EvictLocked(inode);
        }
        finally
        {
            Monitor.Exit(inode);
        }

        if (!done)
        {
            FinishEvict(inode);
        }
    }

    /// <summary>
    /// <see cref="Evict"/> with the inode lock held (unlink evicts in the same hold that drops
    /// the last link). False when the inode is still to leave the swaplist: the caller then
    /// drops the inode lock and calls <see cref="FinishEvict"/>.
    /// </summary>
    public bool EvictLocked(Inode inode)
    {
        Debug.Assert(Monitor.IsEntered(inode), "inode lock not held");

        // Nlink is checked again under the lock: linkat of an O_TMPFILE may have given
        // the inode a name since the caller saw it unlinked.
        if (inode.Evicted || (inode.Nlink != 0 && !Unmounting))
        {
            return true;
        }

        // A node lookup (FUSE LOOKUP of "." by node id) may have taken a reference since
        // EvictIfUnused saw none; it takes it under this lock, so rechecking here is enough:
        // its forget will evict later.
        if (!Unmounting && Volatile.Read(ref inode.Lookups) != 0)
        {
            return true;
        }

        inode.Evicted = true;

        // An empty mapping stays empty under the inode lock (pages are only added with it
        // held), so there is nothing to truncate and no mapping lock to take.
        if ((inode.IsRegular || inode.IsSymlink) && inode.Pages.Count != 0)
        {
            PageCache.TruncatePages(inode, 0); // a long symlink's target is its page 0
        }

        if (inode.Xattrs is { } x)
        {
            ReturnIspace(x.ChargedIspace);
            inode.Xattrs = null;
        }

        // shmem_evict_inode looks at list_empty(&info->swaplist) without the mutex: once
        // the pages are gone no writepage can add the inode (it adds under the page lock of
        // a page in the page cache, and truncation took every page lock). Swapoff takes it
        // off the list and drops stop_eviction in one hold of the list lock, so "off the
        // list and no swapoff holding it" read here (acquire) is final; anything else takes
        // the lock in FinishEvict. The common case, never swapped, leaves in this one hold.
        if (!inode.OnSwaplist && inode.StopEviction == 0)
        {
            Forget(inode);
            return true;
        }

        return false;
    }

    /// <summary>The rest of an eviction that <see cref="EvictLocked"/> left (inode lock not held).</summary>
    public void FinishEvict(Inode inode)
    {
        // shmem_evict_inode: off the swaplist, but only once no swapoff works on the inode
        // (stop_eviction); swapoff holds it that way, never by a reference count.
        var swaplist = Memory.Swaplist;
        Interleaving.Point();
        lock (swaplist.ListLock)
        {
            Interleaving.WaitFor(swaplist.ListLock, () => inode.StopEviction == 0);

            swaplist.Remove(inode);
        }

        // Back under the inode lock, so that a checker holding every inode lock never sees
        // the inode set change under it.
        Interleaving.Enter(inode);
        try
        {
            Forget(inode);
        }
        finally
        {
            Monitor.Exit(inode);
        }
    }

    /// <summary>The end of eviction (inode lock held): out of the inode set, its ispace returned.</summary>
    private void Forget(Inode inode)
    {
        Debug.Assert(Monitor.IsEntered(inode), "inode lock not held");
        using (statLock.Hold())
        {
            inodes.Remove(inode);
            if (MaxInodes != 0)
            {
                freeIspace += BogoInodeSize;
            }
        }
    }

    /// <summary>
    /// iput's last step: evicts an inode when no name, no open handle and no kernel lookup
    /// (FUSE nlookup) keeps it.
    /// </summary>
    public void EvictIfUnused(Inode inode)
    {
        // Three parties drop the last reference: the unlinker stores Nlink, the closer
        // decrements OpenCount, the forgetter decrements Lookups (both Interlocked, a full
        // fence). Each then loads all three after a full fence, so whichever of them drops
        // its count last sees all three at zero. Evict is idempotent if more than one does.
        Interlocked.MemoryBarrier();
        if (inode.Nlink == 0 && Volatile.Read(ref inode.OpenCount) == 0 && Volatile.Read(ref inode.Lookups) == 0)
        {
            Evict(inode);
        }
    }

    /// <summary>Every inode still registered: used by unmount's teardown and its invariant check.</summary>
    public List<Inode> SnapshotInodes()
    {
        using (statLock.Hold())
        {
            return inodes.ToList();
        }
    }

    /// <summary>shmem_reconfigure's size and nr_inodes change, after the options layer validated it.</summary>
    public void SetLimits(long maxBlocks, long maxInodes)
    {
        using (statLock.Hold())
        {
            var usedIspace = (MaxInodes * BogoInodeSize) - freeIspace;
            MaxBlocks = maxBlocks;
            MaxInodes = maxInodes;
            freeIspace = (maxInodes * BogoInodeSize) - (maxInodes == 0 ? 0 : usedIspace);
        }
    }

    /// <summary>Inode space in use (inodes, extra links, xattrs), in bytes of ispace.</summary>
    public long UsedIspace
    {
        get
        {
            using (statLock.Hold())
            {
                return MaxInodes == 0 ? 0 : (MaxInodes * BogoInodeSize) - freeIspace;
            }
        }
    }
}
