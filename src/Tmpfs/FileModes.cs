namespace Tmpfs;

/// <summary>st_mode bits, as in &lt;sys/stat.h&gt;.</summary>
public static class FileModes
{
    public const int TypeMask = 0xF000; // S_IFMT
    public const int Socket = 0xC000; // S_IFSOCK
    public const int Symlink = 0xA000; // S_IFLNK
    public const int Regular = 0x8000; // S_IFREG
    public const int BlockDevice = 0x6000; // S_IFBLK
    public const int Directory = 0x4000; // S_IFDIR
    public const int CharDevice = 0x2000; // S_IFCHR
    public const int Fifo = 0x1000; // S_IFIFO
    public const int SetUid = 0x800; // S_ISUID
    public const int SetGid = 0x400; // S_ISGID
    public const int Sticky = 0x200; // S_ISVTX
    public const int PermissionMask = 0xFFF; // S_IALLUGO
    public const int GroupExecute = 0x8; // S_IXGRP

    public static bool IsDirectory(int mode) => (mode & TypeMask) == Directory;

    public static bool IsRegular(int mode) => (mode & TypeMask) == Regular;

    public static bool IsSymlink(int mode) => (mode & TypeMask) == Symlink;
}

/// <summary>access(2) mask bits (R_OK, W_OK, X_OK).</summary>
[Flags]
public enum AccessMode
{
    Exists = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
}

/// <summary>lseek(2) whence values.</summary>
public enum Whence
{
    Set = 0,
    Current = 1,
    End = 2,
    Data = 3,
    Hole = 4,
}

/// <summary>fallocate(2) modes tmpfs supports.</summary>
[Flags]
public enum FallocateMode
{
    Default = 0,
    KeepSize = 0x1,
    PunchHole = 0x2,
}

/// <summary>renameat2(2) flags.</summary>
[Flags]
public enum RenameFlags
{
    None = 0,
    NoReplace = 0x1,
    Exchange = 0x2,
    Whiteout = 0x4,
}

/// <summary>setxattr(2) flags.</summary>
[Flags]
public enum XattrFlags
{
    None = 0,
    Create = 0x1,
    Replace = 0x2,
}
