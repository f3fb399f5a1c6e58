using Tmpfs.Memory;
using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// One mounted tmpfs, used in-process. Paths are resolved from the mount's root ("/"
/// or relative); every call may come from many threads at once, and takes an optional
/// caller whose permissions are checked as the kernel would (root by default). Failures
/// throw <see cref="TmpfsException"/> with the kernel's errno.
/// </summary>
public sealed partial class FileSystem
{
    private readonly Superblock sb;
    private int unmounted;
    private NodeOperations? nodes;

    internal FileSystem(MemoryManager memory, MountOptions options, Credentials mounter)
    {
        Memory = memory;
        var maxBlocks = options.MaxBlocks ?? MountOptions.DefaultMaxBlocks(memory.TotalBytes);
        var maxInodes = options.MaxInodes ?? MountOptions.DefaultMaxInodes(memory.TotalBytes);
        sb = new Superblock(memory, maxBlocks, maxInodes, options.NoSwap);
        var mode = FileModes.Directory | (options.Mode ?? 0x3FF /* 01777 */);
        var root = sb.NewInode(mode, options.Uid ?? mounter.Uid, options.Gid ?? mounter.Gid);
        sb.Root = root;
        sb.Mount = this;
    }

    /// <summary>The budget this mount draws its pages from.</summary>
    public MemoryManager Memory { get; }

    /// <summary>True once <see cref="Unmount"/> has completed (or begun, when detached).</summary>
    public bool IsUnmounted => Volatile.Read(ref unmounted) != 0;

    /// <summary>size= in bytes; 0 when unlimited.</summary>
    public long SizeLimit => sb.MaxBlocks * PageFrames.PageSize;

    /// <summary>nr_inodes=; 0 when unlimited.</summary>
    public long InodeLimit => sb.MaxInodes;

    /// <summary>Bytes of pages charged to this mount.</summary>
    public long UsedBytes => sb.UsedBlocks * PageFrames.PageSize;

    /// <summary>Bytes of this mount's file pages resident in memory.</summary>
    public long ResidentBytes => (sb.UsedBlocks - Volatile.Read(ref sb.SwappedPages)) * PageFrames.PageSize;

    /// <summary>Bytes of this mount's file pages out on swap.</summary>
    public long SwappedBytes => Volatile.Read(ref sb.SwappedPages) * PageFrames.PageSize;

    /// <summary>Inodes alive on this mount, the root included.</summary>
    public long UsedInodes => sb.UsedInodes;

    /// <summary>Open file and directory handles on this mount.</summary>
    public int OpenHandles => Volatile.Read(ref sb.OpenHandles);

    internal Superblock Superblock => sb;

    /// <summary>
    /// The same operations by inode number (node id) instead of path, for front ends that
    /// speak in nodes, such as FUSE; see docs/api.md.
    /// </summary>
    public NodeOperations Nodes => nodes ??= new NodeOperations(this);

    /// <summary>stat(2), or lstat(2) with <paramref name="follow"/> false.</summary>
    public StatInfo Stat(string path, Credentials? cred = null, bool follow = true)
    {
        var c = cred ?? Credentials.Root;
        using (EnterRead())
        {
            var inode = PathWalk.Lookup(sb, path, c, follow);
            lock (inode)
            {
                return inode.ToStat();
            }
        }
    }

    /// <summary>access(2)/faccessat(2) for the caller's credentials.</summary>
    public void Access(string path, AccessMode mode, Credentials? cred = null)
    {
        var c = cred ?? Credentials.Root;
        using (EnterRead())
        {
            AccessOf(PathWalk.Lookup(sb, path, c, followFinal: true), mode, c);
        }
    }

    internal static void AccessOf(Inode inode, AccessMode mode, Credentials c)
    {
        if (mode != AccessMode.Exists)
        {
            Permission.Check(inode, mode, c);
        }
    }

    /// <summary>statfs(2).</summary>
    public StatFs StatFs()
    {
        CheckMounted();
        var maxBlocks = sb.MaxBlocks;
        var free = maxBlocks == 0 ? 0 : Math.Max(0, maxBlocks - sb.UsedBlocks);
        return new StatFs
        {
            Type = Tmpfs.StatFs.TmpfsMagic,
            BlockSize = PageFrames.PageSize,
            FragmentSize = PageFrames.PageSize,
            Blocks = maxBlocks,
            BlocksFree = free,
            BlocksAvailable = free,
            Files = sb.MaxInodes,
            FilesFree = sb.MaxInodes == 0 ? 0 : sb.FreeIspace / Superblock.BogoInodeSize,
            NameLength = PathWalk.NameMax,
        };
    }

    /// <summary>
    /// A consistency check of this mount (an fsck): names, link counts, page caches and
    /// their charges. Returns the problems found, one line each (empty when consistent).
    /// It locks the mount and pauses reclaim while it looks; exact when the mount is idle.
    /// </summary>
    public IReadOnlyList<string> CheckConsistency()
    {
        CheckMounted();
        return Fsck.Check(sb);
    }

    /// <summary>mount -o remount,OPTIONS: changes size/nr_inodes (EINVAL below what is in use).</summary>
    public void Remount(string options)
    {
        CheckMounted();
        var requested = MountOptions.Parse(options, Memory.TotalBytes);
        using (EnterWrite())
        {
            var usedInodes = (sb.UsedIspace + Superblock.BogoInodeSize - 1) / Superblock.BogoInodeSize;
            var (blocks, inodes) = MountOptions.Reconfigure(requested, sb.MaxBlocks, sb.MaxInodes, sb.UsedBlocks, usedInodes, sb.NoSwap);
            sb.SetLimits(blocks, inodes);
        }
    }

    /// <summary>
    /// umount(2): EBUSY while handles are open, unless <paramref name="detach"/> (umount -l),
    /// which hides the mount at once and tears it down at the last close. Afterwards every
    /// inode, page and inode-space charge of the mount is gone; a leftover is reported as
    /// an <see cref="InvalidOperationException"/> ("busy inodes after unmount").
    /// </summary>
    public void Unmount(bool detach = false)
    {
        if (sb.Unmounting)
        {
            TmpfsException.Throw(Errno.EINVAL, "not mounted");
        }

        using (new NamespaceWriteScope(sb.NamespaceLock))
        {
            if (sb.Unmounting)
            {
                TmpfsException.Throw(Errno.EINVAL, "not mounted");
            }

            var open = Volatile.Read(ref sb.OpenHandles);
            if (open > 0 && !detach)
            {
                TmpfsException.Throw(Errno.EBUSY, $"{open} handle(s) still open");
            }

            sb.Unmounting = true;
            Volatile.Write(ref unmounted, 1);
            sb.Detached = open > 0;
        }

        Memory.Unregister(this);

        // No handle can be opened any more, so the count only falls. The last close reads
        // Detached after its decrement; we read the count after writing Detached: with a
        // full fence on both sides one of us sees the other, and the claim lets one tear down.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref sb.OpenHandles) == 0 && sb.ClaimTeardown())
        {
            Teardown();
        }
    }

    /// <summary>
    /// kill_litter_super: evicts every inode, then checks the invariants of a finished unmount.
    /// </summary>
    internal void Teardown()
    {
        foreach (var inode in sb.SnapshotInodes())
        {
            Interleaving.Enter(inode);
            try
            {
                // Names die with the mount: each extra hard link gives back its ispace, as unlink would.
                if (!inode.IsDirectory && inode.Nlink > 1)
                {
                    sb.ReturnIspace((inode.Nlink - 1) * Superblock.BogoInodeSize);
                }

                inode.Nlink = 0;
            }
            finally
            {
                Monitor.Exit(inode);
            }

            sb.Evict(inode);
        }

        // A reclaim pass may still hold a reference to a page it isolated before eviction
        // truncated it; the frame is free once the pass ends. Wait for that, so that the
        // budget's counters are back where they were when unmount returns.
        Memory.Reclaim.WaitForPasses();
        Interleaving.Point();

        var problems = new List<string>();
        var left = sb.UsedInodes;
        if (left != 0)
        {
            problems.Add($"VFS: Busy inodes after unmount of tmpfs: {left} left");
        }

        if (sb.UsedBlocks != 0)
        {
            problems.Add($"{sb.UsedBlocks} block(s) still charged after unmount");
        }

        if (sb.UsedIspace != 0)
        {
            problems.Add($"{sb.UsedIspace} bytes of inode space still charged after unmount");
        }

        var owned = Fsck.FramesOwnedBy(sb);
        if (owned != 0)
        {
            problems.Add($"{owned} frame(s) still owned by an inode of the mount after unmount");
        }

        var listed = 0;
        long swapped = 0;
        foreach (var inode in Memory.Swaplist.Snapshot())
        {
            if (ReferenceEquals(inode.Sb, sb))
            {
                listed++;
                swapped += inode.Swapped;
            }
        }

        if (listed != 0)
        {
            problems.Add($"{listed} inode(s) of the mount still on the swaplist after unmount ({swapped} page(s) swapped)");
        }

        Memory.Forget(sb);

        if (problems.Count > 0)
        {
            Interlocked.Add(ref Memory.Stat.InvariantViolations, problems.Count);
            throw new InvalidOperationException(string.Join("; ", problems));
        }
    }

    /// <summary>Forced teardown when the budget goes away: every inode is evicted, open or not.</summary>
    internal void Shutdown()
    {
        using (new NamespaceWriteScope(sb.NamespaceLock))
        {
            sb.Unmounting = true;
            Volatile.Write(ref unmounted, 1);
        }

        Memory.Unregister(this);
        if (!sb.ClaimTeardown())
        {
            return; // an unmount already tore it down, or is doing so
        }

        foreach (var inode in sb.SnapshotInodes())
        {
            inode.Nlink = 0;
            sb.Evict(inode);
        }

        Memory.Forget(sb);
    }

    /// <summary>
    /// A handle on <paramref name="inode"/> closed: the last close of an unlinked inode
    /// evicts it, and the last handle of a detached mount finishes its unmount.
    /// </summary>
    internal void HandleClosed(Inode inode)
    {
        if (Interlocked.Decrement(ref inode.OpenCount) == 0 && inode.Nlink == 0)
        {
            sb.EvictIfUnused(inode); // also checks the lookup count
        }

        if (Interlocked.Decrement(ref sb.OpenHandles) == 0 && sb.Detached && sb.ClaimTeardown())
        {
            Teardown();
        }
    }

    // The mounted check is made again once the lock is held: unmount sets Unmounting under
    // the write lock, so a call that checked before and then waited for the lock must not
    // go on to work in a mount that is being torn down.
    internal NamespaceReadScope EnterRead()
    {
        CheckMounted();
        var scope = new NamespaceReadScope(sb.NamespaceLock);
        if (sb.Unmounting)
        {
            scope.Dispose();
            CheckMounted();
        }

        return scope;
    }

    internal NamespaceWriteScope EnterWrite()
    {
        CheckMounted();
        var scope = new NamespaceWriteScope(sb.NamespaceLock);
        if (sb.Unmounting)
        {
            scope.Dispose();
            CheckMounted();
        }

        return scope;
    }

    private void CheckMounted()
    {
        if (sb.Unmounting)
        {
            TmpfsException.Throw(Errno.ENODEV, "the filesystem is unmounted");
        }
    }

    private static Credentials Caller(Credentials? cred) => cred ?? Credentials.Root;

    internal readonly struct NamespaceReadScope : IDisposable
    {
        private readonly RwSemaphore rwLock;

        public NamespaceReadScope(RwSemaphore rwLock)
        {
            this.rwLock = rwLock;
            rwLock.EnterRead();
        }

        public void Dispose() => rwLock.ExitRead();
    }

    internal readonly struct NamespaceWriteScope : IDisposable
    {
        private readonly RwSemaphore rwLock;

        public NamespaceWriteScope(RwSemaphore rwLock)
        {
            this.rwLock = rwLock;
            rwLock.EnterWrite(); // asserts (debug builds) that this thread holds no read lock to upgrade
        }

        public void Dispose() => rwLock.ExitWrite();
    }
}
