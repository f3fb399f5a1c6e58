using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Tmpfs.Fuse.Wire;

/// <summary>Formatting of attributes and directory entries into reply buffers.</summary>
internal static class Encode
{
    public static readonly int DirentSize = Unsafe.SizeOf<Dirent>();
    public static readonly int DirentplusSize = Unsafe.SizeOf<Direntplus>();

    /// <summary>FUSE_DIRENT_ALIGN: records are padded to 8 bytes.</summary>
    public static int Align8(int n) => (n + 7) & ~7;

    public static void Attr(in StatInfo s, ref FuseAttr a)
    {
        a.Ino = (ulong)s.Ino;
        a.Size = (ulong)s.Size;
        a.Blocks = (ulong)s.Blocks;
        a.Atime = (ulong)s.Atime.Seconds;
        a.Mtime = (ulong)s.Mtime.Seconds;
        a.Ctime = (ulong)s.Ctime.Seconds;
        a.AtimeNsec = (uint)s.Atime.Nanoseconds;
        a.MtimeNsec = (uint)s.Mtime.Nanoseconds;
        a.CtimeNsec = (uint)s.Ctime.Nanoseconds;
        a.Mode = (uint)s.Mode;
        a.Nlink = s.Nlink;
        a.Uid = s.Uid;
        a.Gid = s.Gid;
        a.Rdev = (uint)s.Rdev;
        a.Blksize = (uint)s.BlockSize;
        a.Flags = 0;
    }

    /// <summary>STATX_BASIC_STATS | STATX_BTIME: all a tmpfs inode has (shmem_getattr).</summary>
    public const uint StatxMask = 0x7FF | 0x800;

    /// <summary>
    /// The attributes as struct fuse_statx, birth time included. Device numbers are split as
    /// glibc's major()/minor() split a dev_t; the kernel ignores dev_major/minor (its own
    /// superblock's device stands), so they stay 0.
    /// </summary>
    public static void Statx(in StatInfo s, ref FuseStatx x)
    {
        x = default;
        x.Mask = StatxMask;
        x.Blksize = (uint)s.BlockSize;
        x.Nlink = s.Nlink;
        x.Uid = s.Uid;
        x.Gid = s.Gid;
        x.Mode = (ushort)s.Mode;
        x.Ino = (ulong)s.Ino;
        x.Size = (ulong)s.Size;
        x.Blocks = (ulong)s.Blocks;
        x.Atime = SxTime(s.Atime);
        x.Btime = SxTime(s.Btime);
        x.Ctime = SxTime(s.Ctime);
        x.Mtime = SxTime(s.Mtime);
        x.RdevMajor = (uint)(((s.Rdev >> 8) & 0xFFF) | ((s.Rdev >> 32) & 0xFFFFF000));
        x.RdevMinor = (uint)((s.Rdev & 0xFF) | ((s.Rdev >> 12) & 0xFFFFFF00));
    }

    public static void Entry(in StatInfo s, ref EntryOut e, TimeSpan entryTimeout, TimeSpan attrTimeout)
    {
        e.NodeId = (ulong)s.Ino;
        e.Generation = s.Generation;
        Timeout(entryTimeout, out e.EntryValid, out e.EntryValidNsec);
        Timeout(attrTimeout, out e.AttrValid, out e.AttrValidNsec);
        Attr(s, ref e.Attr);
    }

    private static SxTime SxTime(Timespec t) => new() { Sec = t.Seconds, Nsec = (uint)t.Nanoseconds };

    public static void Timeout(TimeSpan t, out ulong seconds, out uint nanoseconds)
    {
        var ticks = Math.Max(0, t.Ticks);
        seconds = (ulong)(ticks / TimeSpan.TicksPerSecond);
        nanoseconds = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
    }

    /// <summary>
    /// Appends a fuse_dirent (or with <paramref name="plus"/> a fuse_direntplus whose entry
    /// part the caller fills through <paramref name="entryOffset"/>) for <paramref name="name"/>;
    /// returns the bytes used, or 0 when it does not fit.
    /// </summary>
    public static int Dirent(Span<byte> dest, ulong ino, ulong nextOffset, int mode, ReadOnlySpan<char> name, bool plus, out int entryOffset)
    {
        entryOffset = 0;
        var nameLength = Encoding.UTF8.GetByteCount(name);
        var head = plus ? DirentplusSize : DirentSize;
        var size = Align8(head + nameLength);
        if (size > dest.Length)
        {
            return 0;
        }

        var record = dest[..size];
        record.Clear();
        var direntAt = plus ? Unsafe.SizeOf<EntryOut>() : 0;
        ref var d = ref MemoryMarshal.AsRef<Dirent>(record[direntAt..]);
        d.Ino = ino;
        d.Off = nextOffset;
        d.Namelen = (uint)nameLength;
        d.Type = (uint)(mode & 0xF000) >> 12; // DT_* = S_IFMT >> 12
        Encoding.UTF8.GetBytes(name, record[head..]);
        return size;
    }
}
