using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// An open file (struct file): positional reads and writes, truncate, fallocate, lseek,
/// and the f* attribute calls. The inode stays alive while a handle is open, also after
/// its last name is unlinked. Dispose closes it. Thread-safe.
/// </summary>
public sealed partial class FileHandle : IDisposable
{
    private readonly Credentials opener;
    private const int Closed = 1;
    private const int TmpfileLinkable = 2; // I_LINKABLE

    private int state; // Closed and TmpfileLinkable bits, in one int: 8 bytes less per handle

    // file_ra_state.prev_pos: where the last read ended, so that a read continuing there (or
    // a first read from the start) is known to be sequential (ReadPattern). Read and written
    // under the inode lock; it only picks how pages are copied.
    private long readEnd;

    internal FileHandle(Inode inode, OpenFlags flags, Credentials opener)
    {
        this.opener = opener;
        Inode = inode;
        Flags = flags;
        Interlocked.Increment(ref inode.OpenCount);
        Interlocked.Increment(ref inode.Sb.OpenHandles);
    }

    /// <summary>The flags the file was opened with.</summary>
    public OpenFlags Flags { get; }

    /// <summary>The inode number.</summary>
    public long Ino => Inode.Ino;

    /// <summary>The file position used by <see cref="Read(Span{byte})"/> and <see cref="Write(ReadOnlySpan{byte})"/>.</summary>
    public long Position { get; set; }

    internal Inode Inode { get; }

    internal bool IsClosed => (Volatile.Read(ref state) & Closed) != 0;

    /// <summary>An O_TMPFILE handle opened without O_EXCL may be linked into the namespace.</summary>
    internal bool IsTmpfileLinkable
    {
        get => (Volatile.Read(ref state) & TmpfileLinkable) != 0;
        set
        {
            if (value)
            {
                Interlocked.Or(ref state, TmpfileLinkable);
            }
            else
            {
                Interlocked.And(ref state, ~TmpfileLinkable);
            }
        }
    }

    private bool CanRead => (Flags & OpenFlags.Path) == 0 && (Flags & OpenFlags.AccessModeMask) is OpenFlags.ReadOnly or OpenFlags.ReadWrite;

    private bool CanWrite => (Flags & OpenFlags.Path) == 0 && (Flags & OpenFlags.AccessModeMask) is OpenFlags.WriteOnly or OpenFlags.ReadWrite;

    /// <summary>pread(2): bytes read, 0 at or past the end of the file.</summary>
    public int Read(Span<byte> buffer, long offset)
    {
        CheckOpen();
        if (!CanRead)
        {
            TmpfsException.Throw(Errno.EBADF, "not open for reading");
        }

        CheckRange(offset, buffer.Length);
        CheckRegular();
        lock (Inode)
        {
            CheckLive();
            var pattern = offset != readEnd ? ReadPattern.Random : offset == 0 ? ReadPattern.Start : ReadPattern.Continuing;
            var n = PageCache.Read(Inode, offset, buffer, pattern);
            readEnd = offset + n;
            if ((Flags & OpenFlags.NoAtime) == 0)
            {
                InodeAttributes.Accessed(Inode);
            }

            return n;
        }
    }

    /// <summary>read(2) at the file position, which advances.</summary>
    public int Read(Span<byte> buffer)
    {
        var n = Read(buffer, Position);
        Position += n;
        return n;
    }

    /// <summary>
    /// pwrite(2): bytes written (short only when space ran out part way). With O_APPEND
    /// the data goes to the end of the file whatever the offset, as Linux does.
    /// </summary>
    public int Write(ReadOnlySpan<byte> buffer, long offset)
    {
        CheckOpen();
        if (!CanWrite)
        {
            TmpfsException.Throw(Errno.EBADF, "not open for writing");
        }

        CheckRange(offset, buffer.Length);
        CheckRegular();
        lock (Inode)
        {
            CheckLive();
            if ((Flags & OpenFlags.Append) != 0)
            {
                offset = Inode.Size;
            }

            if (buffer.IsEmpty)
            {
                return 0;
            }

            if (offset >= PageCache.MaxFileSize)
            {
                TmpfsException.Throw(Errno.EFBIG, "write beyond the maximum file size");
            }

            // shmem_file_write_iter: file_remove_privs and file_update_time come after
            // generic_write_checks but before the copy, so a write that then fails (ENOSPC)
            // has still dropped set-id bits and changed mtime/ctime.
            InodeAttributes.Modified(Inode, opener);
            return PageCache.Write(Inode, offset, buffer);
        }
    }

    /// <summary>write(2) at the file position (at the end with O_APPEND), which advances.</summary>
    public int Write(ReadOnlySpan<byte> buffer)
    {
        lock (Inode)
        {
            var offset = (Flags & OpenFlags.Append) != 0 ? Inode.Size : Position;
            var n = Write(buffer, offset);
            Position = offset + n;
            return n;
        }
    }

    /// <summary>ftruncate(2).</summary>
    public void Truncate(long size)
    {
        CheckOpen();
        if (!CanWrite)
        {
            TmpfsException.Throw(Errno.EINVAL, "not open for writing");
        }

        if (Inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        InodeAttributes.Truncate(Inode, size, opener);
    }

    /// <summary>fallocate(2): default, KEEP_SIZE, and PUNCH_HOLE (which needs KEEP_SIZE); others are EOPNOTSUPP.</summary>
    public void Fallocate(FallocateMode mode, long offset, long length)
    {
        CheckOpen();

        // vfs_fallocate's order: range, the mode's shape, FMODE_WRITE, the file type, the size
        // limit; only then does shmem_fallocate refuse the modes tmpfs lacks (kernel 6.18).
        if (offset < 0 || length <= 0)
        {
            TmpfsException.Throw(Errno.EINVAL, "bad offset or length");
        }

        if (!IsValidVfsMode((int)mode))
        {
            TmpfsException.Throw(Errno.EOPNOTSUPP, "invalid fallocate mode");
        }

        if (!CanWrite)
        {
            TmpfsException.Throw(Errno.EBADF, "not open for writing");
        }

        if ((Inode.Mode & FileModes.TypeMask) == FileModes.Fifo)
        {
            TmpfsException.Throw(Errno.ESPIPE, "fallocate on a pipe");
        }

        if (Inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        if (!Inode.IsRegular)
        {
            TmpfsException.Throw(Errno.ENODEV, "not a regular file");
        }

        if (offset > PageCache.MaxFileSize - length)
        {
            TmpfsException.Throw(Errno.EFBIG, "beyond the maximum file size");
        }

        if ((mode & ~(FallocateMode.KeepSize | FallocateMode.PunchHole)) != 0)
        {
            TmpfsException.Throw(Errno.EOPNOTSUPP, "unsupported fallocate mode");
        }

        lock (Inode)
        {
            CheckLive();
            var end = offset + length;
            if ((mode & FallocateMode.PunchHole) != 0)
            {
                PageCache.PunchHole(Inode, offset, end);
            }
            else
            {
                PageCache.Allocate(Inode, offset, end);
                if ((mode & FallocateMode.KeepSize) == 0 && end > Inode.Size)
                {
                    Inode.Size = end;
                }
            }

            InodeAttributes.Modified(Inode, opener);
        }
    }

    /// <summary>lseek(2), SEEK_DATA and SEEK_HOLE included; sets and returns the file position.</summary>
    public long Seek(long offset, Whence whence)
    {
        CheckOpen();
        lock (Inode)
        {
            long result;
            switch (whence)
            {
                case Whence.Set:
                    result = offset;
                    break;
                case Whence.Current:
                    result = Position + offset;
                    break;
                case Whence.End:
                    result = Inode.Size + offset;
                    break;
                case Whence.Data:
                case Whence.Hole:
                    if (!Inode.IsRegular)
                    {
                        TmpfsException.Throw(Errno.EINVAL, "SEEK_DATA/SEEK_HOLE on a non-regular file");
                    }

                    result = PageCache.SeekHoleData(Inode, offset, whence == Whence.Data);
                    break;
                default:
                    return TmpfsException.Throw<long>(Errno.EINVAL, "bad whence");
            }

            if (result < 0)
            {
                TmpfsException.Throw(Errno.EINVAL, "negative resulting offset");
            }

            Position = result;
            return result;
        }
    }

    /// <summary>fstat(2).</summary>
    public StatInfo Stat()
    {
        CheckOpen();
        lock (Inode)
        {
            return Inode.ToStat();
        }
    }

    /// <summary>fchmod(2).</summary>
    public void Chmod(int mode, Credentials? cred = null) => InodeAttributes.Chmod(Inode, mode, cred ?? opener);

    /// <summary>fchown(2); uint.MaxValue leaves an id unchanged.</summary>
    public void Chown(uint uid, uint gid, Credentials? cred = null) => InodeAttributes.Chown(Inode, uid, gid, cred ?? opener);

    /// <summary>futimens(2).</summary>
    public void Utimens(Timespec atime, Timespec mtime, Credentials? cred = null) =>
        InodeAttributes.Utimens(Inode, atime, mtime, cred ?? opener);

    /// <summary>fsync(2): memory is the storage, so there is nothing to flush.</summary>
    public void Fsync() => CheckOpen();

    /// <summary>close(2): the last close of an unlinked file frees it.</summary>
    public void Dispose()
    {
        if ((Interlocked.Or(ref state, Closed) & Closed) != 0)
        {
            return;
        }

        Inode.Sb.Mount.HandleClosed(Inode);
    }

    /// <summary>
    /// vfs_fallocate's mode check: known bits only, one operation of FALLOC_FL_MODE_MASK,
    /// PUNCH_HOLE with KEEP_SIZE, COLLAPSE/INSERT/WRITE_ZEROES without it.
    /// </summary>
    private static bool IsValidVfsMode(int mode)
    {
        const int keepSize = 0x01, punchHole = 0x02, collapse = 0x08, zero = 0x10, insert = 0x20, unshare = 0x40, writeZeroes = 0x80;
        const int modeMask = punchHole | collapse | zero | insert | unshare | writeZeroes;
        if ((mode & ~(modeMask | keepSize)) != 0)
        {
            return false;
        }

        return (mode & modeMask) switch
        {
            0 or unshare or zero => true,
            punchHole => (mode & keepSize) != 0,
            collapse or insert or writeZeroes => (mode & keepSize) == 0,
            _ => false,
        };
    }

    /// <summary>rw_verify_area: a negative offset, or one whose end passes LLONG_MAX, is EINVAL.</summary>
    private static void CheckRange(long offset, int count)
    {
        if (offset < 0 || offset > long.MaxValue - count)
        {
            TmpfsException.Throw(Errno.EINVAL, "offset negative or offset + count past LLONG_MAX");
        }
    }

    private void CheckOpen()
    {
        if ((Volatile.Read(ref state) & Closed) != 0)
        {
            TmpfsException.Throw(Errno.EBADF, "the handle is closed");
        }
    }

    /// <summary>After a forced shutdown (the budget disposed under open handles) the inode has no pages left to use.</summary>
    private void CheckLive()
    {
        if (Inode.Evicted)
        {
            TmpfsException.Throw(Errno.EIO, "the filesystem was shut down");
        }
    }

    private void CheckRegular()
    {
        if (Inode.IsDirectory)
        {
            TmpfsException.Throw(Errno.EISDIR, "is a directory");
        }

        if (!Inode.IsRegular)
        {
            TmpfsException.Throw(Errno.EINVAL, "not a regular file");
        }
    }
}
