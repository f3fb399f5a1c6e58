namespace Tmpfs.Tests.Differential;

/// <summary>A caller of an operation: fsuid, fsgid and supplementary groups.</summary>
internal sealed record Caller(uint Uid, uint Gid, uint[] Groups)
{
    public static readonly Caller Root = new(0, 0, []);

    /// <summary>The callers operations are drawn from; index 0 is root.</summary>
    public static readonly Caller[] All =
    [
        Root,
        new(1000, 1000, [1000, 100]),
        new(1001, 1001, [1001, 100]),
        new(1002, 100, []),
    ];

    public bool IsRoot => Uid == 0;

    public override string ToString() => IsRoot ? "root" : $"u{Uid}";
}

/// <summary>A timestamp as utimensat takes it (nsec may be UTIME_NOW / UTIME_OMIT).</summary>
internal readonly record struct Ts(long Sec, long Nsec)
{
    public const long UtimeNow = (1L << 30) - 1;
    public const long UtimeOmit = (1L << 30) - 2;

    public static readonly Ts Now = new(0, UtimeNow);
    public static readonly Ts Omit = new(0, UtimeOmit);

    /// <summary>
    /// Timestamps the generator sets explicitly all lie before this (2001-09-09); anything
    /// later was set from the clock, and only "it is recent" is comparable across the two sides.
    /// </summary>
    public const long ExplicitLimit = 1_000_000_000;

    public override string ToString() => Nsec switch
    {
        UtimeNow => "NOW",
        UtimeOmit => "OMIT",
        _ => $"{Sec}.{Nsec:D9}",
    };

    /// <summary>How a timestamp read back by stat is compared: exactly if explicit, else only "now".</summary>
    public string Observed() => Sec < ExplicitLimit ? ToString() : "now";
}

/// <summary>The stat fields compared (inode numbers only to group hard links in snapshots).</summary>
internal readonly record struct FsStat(
    int Mode, uint Nlink, uint Uid, uint Gid, long Size, long Blocks, ulong Rdev, ulong Ino, Ts Atime, Ts Mtime, Ts Ctime)
{
    public override string ToString()
    {
        var type = (Mode & 0xF000) switch
        {
            0x8000 => "reg",
            0x4000 => "dir",
            0xA000 => "lnk",
            0x1000 => "fifo",
            0x2000 => "chr",
            0x6000 => "blk",
            0xC000 => "sock",
            var t => $"type{t:x}",
        };
        var rdev = (Mode & 0xF000) is 0x2000 or 0x6000 ? $" rdev={Rdev:x}" : string.Empty;

        // ctime is not compared: the kernel takes it from a coarse clock unless someone
        // queried it since the last change (multigrain timestamps), so whether two
        // changes get distinct ctimes depends on timing the engine cannot reproduce.
        return $"{type} {Convert.ToString(Mode & 0xFFF, 8).PadLeft(4, '0')} nlink={Nlink} uid={Uid} gid={Gid} " +
            $"size={Size} blocks={Blocks}{rdev} atime={Atime.Observed()} mtime={Mtime.Observed()}";
    }
}

/// <summary>statfs fields compared.</summary>
internal readonly record struct FsStatFs(long Blocks, long BlocksFree, long BlocksAvail, long Files, long FilesFree)
{
    public override string ToString() =>
        $"blocks={Blocks} bfree={BlocksFree} bavail={BlocksAvail} files={Files} ffree={FilesFree}";
}

/// <summary>
/// One side of the differential test. Every method returns a non-negative result on success
/// and -errno on failure; none throws for a failing call. All calls of one sequence happen
/// on one thread, between <see cref="Begin"/> and <see cref="End"/>.
/// </summary>
internal interface IFsTarget : IDisposable
{
    string Name { get; }

    /// <summary>Whether operations can run as callers other than the current user.</summary>
    bool SupportsCallers { get; }

    /// <summary>Whether the mount's size and inode limits apply (statfs comparable, ENOSPC reachable).</summary>
    bool HasLimits { get; }

    /// <summary>Prepare the calling thread (kernel: private fs_struct, chroot into the mount, umask 0).</summary>
    void Begin();

    void End();

    /// <summary>Make the following calls as <paramref name="caller"/>; <see cref="RestoreRoot"/> undoes it.</summary>
    void SetCaller(Caller caller);

    void RestoreRoot();

    int Open(string path, int flags, int mode, out object? handle);

    int Close(object handle);

    int Read(object handle, Span<byte> buffer, long offset);

    int Write(object handle, ReadOnlySpan<byte> data, long offset);

    int FTruncate(object handle, long length);

    int Fallocate(object handle, int mode, long offset, long length);

    long Seek(object handle, long offset, int whence);

    int FStat(object handle, out FsStat stat);

    int FChmod(object handle, int mode);

    int FChown(object handle, uint uid, uint gid);

    int FUtimens(object handle, Ts atime, Ts mtime);

    /// <summary>linkat(fd, "", AT_FDCWD, newPath, AT_EMPTY_PATH) (kernel: via /proc/self/fd).</summary>
    int LinkHandle(object handle, string newPath);

    int Mkdir(string path, int mode);

    int Rmdir(string path);

    int Unlink(string path);

    int Rename(string oldPath, string newPath, int flags);

    int Link(string oldPath, string newPath);

    int Symlink(string target, string linkPath);

    int ReadLink(string path, out string target);

    int Mknod(string path, int mode, ulong rdev);

    int Chmod(string path, int mode);

    int Chown(string path, uint uid, uint gid, bool follow);

    int Utimens(string path, Ts atime, Ts mtime, bool follow);

    int Truncate(string path, long length);

    int Stat(string path, bool follow, out FsStat stat);

    int Access(string path, int mode);

    /// <summary>readdir as the current caller: names (without . and ..) and S_IFMT types.</summary>
    int ReadDir(string path, List<(string Name, int Type)> entries);

    int SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags, bool follow);

    /// <summary>getxattr: the value's size; with an empty buffer only the size; ERANGE if too small.</summary>
    int GetXattr(string path, string name, Span<byte> buffer, bool follow);

    int ListXattr(string path, List<string> names, bool follow);

    int RemoveXattr(string path, string name, bool follow);

    int StatFs(out FsStatFs statfs);
}
