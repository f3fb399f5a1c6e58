namespace Tmpfs;

/// <summary>open(2) flags, with Linux's values so they pass through FUSE unchanged.</summary>
[Flags]
public enum OpenFlags
{
    ReadOnly = 0,
    WriteOnly = 0x1,
    ReadWrite = 0x2,
    AccessModeMask = 0x3,
    Create = 0x40,
    Exclusive = 0x80,
    NoCtty = 0x100,
    Truncate = 0x200,
    Append = 0x400,
    NonBlock = 0x800,
    Directory = 0x10000,
    NoFollow = 0x20000,
    NoAtime = 0x40000,
    CloseOnExec = 0x80000,
    Path = 0x200000,

    /// <summary>O_TMPFILE: __O_TMPFILE | O_DIRECTORY.</summary>
    TmpFile = 0x400000 | Directory,
}
