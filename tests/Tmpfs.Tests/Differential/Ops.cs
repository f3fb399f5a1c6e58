using System.Globalization;
using System.Text;

namespace Tmpfs.Tests.Differential;

/// <summary>One generated operation. <see cref="Show"/> is how a failing sequence is printed.</summary>
internal abstract record Op(Caller Who)
{
    public abstract string Run(Runner r);

    public abstract string Show();

    public sealed override string ToString() => Who.IsRoot || this is HandleOp ? Show() : $"[{Who}] {Show()}";

    protected static string Q(string s) => Runner.Quote(s);

    protected static string Oct(int mode) => "0" + Convert.ToString(mode, 8);

    public static string OpenFlagsText(int flags)
    {
        var parts = new List<string>
        {
            (flags & 3) switch { 0 => "O_RDONLY", 1 => "O_WRONLY", 2 => "O_RDWR", _ => "O_ACCMODE" },
        };
        if ((flags & Native.O_TMPFILE) == Native.O_TMPFILE)
        {
            parts.Add("O_TMPFILE");
        }
        else if ((flags & Native.O_DIRECTORY) != 0)
        {
            parts.Add("O_DIRECTORY");
        }

        foreach (var (bit, name) in new[]
        {
            (Native.O_CREAT, "O_CREAT"), (Native.O_EXCL, "O_EXCL"), (Native.O_TRUNC, "O_TRUNC"),
            (Native.O_APPEND, "O_APPEND"), (Native.O_NOFOLLOW, "O_NOFOLLOW"),
        })
        {
            if ((flags & bit) != 0)
            {
                parts.Add(name);
            }
        }

        return string.Join('|', parts);
    }
}

/// <summary>An operation on an open handle; it runs as the caller that opened the handle.</summary>
internal abstract record HandleOp(int Slot) : Op(Caller.Root);

internal sealed record OpenOp(Caller Who, int Slot, string Path, int Flags, int Mode) : Op(Who)
{
    public override string Run(Runner r) => r.OpenInto(Slot, Who, Path, Flags, Mode);

    public override string Show() =>
        $"fd{Slot} = open({Q(Path)}, {OpenFlagsText(Flags)}" +
        ((Flags & (Native.O_CREAT | Native.O_TMPFILE)) != 0 ? $", {Oct(Mode)})" : ")");
}

internal sealed record CloseOp(int Slot) : HandleOp(Slot)
{
    public override string Run(Runner r) => r.CloseCurrent();

    public override string Show() => $"close(fd{Slot})";
}

internal sealed record ReadOp(int Slot, long Offset, int Length) : HandleOp(Slot)
{
    public override string Run(Runner r)
    {
        var buf = r.Scratch.AsSpan(0, Length);
        buf.Fill(0xEE);
        var n = r.Target.Read(r.Handle, buf, Offset);
        if (n < 0)
        {
            return Runner.Err(n);
        }

        var d = new Digest();
        d.Add(Offset, buf[..n]);
        return $"{n} {d}";
    }

    public override string Show() => $"pread(fd{Slot}, {Length}, {Offset})";
}

internal sealed record WriteOp(int Slot, long Offset, int Length, int Tag) : HandleOp(Slot)
{
    public override string Run(Runner r)
    {
        var buf = r.Scratch.AsSpan(0, Length);
        Runner.Fill(buf, Tag);
        return Runner.Num(r.Target.Write(r.Handle, buf, Offset));
    }

    public override string Show() => $"pwrite(fd{Slot}, {Length} bytes tag {Tag}, {Offset})";
}

internal sealed record FTruncateOp(int Slot, long Length) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.FTruncate(r.Handle, Length));

    public override string Show() => $"ftruncate(fd{Slot}, {Length})";
}

internal sealed record FallocateOp(int Slot, int Mode, long Offset, long Length) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Fallocate(r.Handle, Mode, Offset, Length));

    public override string Show()
    {
        var mode = Mode switch
        {
            0 => "0",
            1 => "KEEP_SIZE",
            2 => "PUNCH_HOLE",
            3 => "PUNCH_HOLE|KEEP_SIZE",
            _ => Mode.ToString(CultureInfo.InvariantCulture),
        };
        return $"fallocate(fd{Slot}, {mode}, {Offset}, {Length})";
    }
}

internal sealed record SeekOp(int Slot, long Offset, int Whence) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Num(r.Target.Seek(r.Handle, Offset, Whence));

    public override string Show() => $"lseek(fd{Slot}, {Offset}, {(Whence == 3 ? "SEEK_DATA" : "SEEK_HOLE")})";
}

internal sealed record FStatOp(int Slot) : HandleOp(Slot)
{
    public override string Run(Runner r)
    {
        var rc = r.Target.FStat(r.Handle, out var st);
        return rc < 0 ? Runner.Err(rc) : st.ToString();
    }

    public override string Show() => $"fstat(fd{Slot})";
}

internal sealed record FChmodOp(int Slot, int Mode) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.FChmod(r.Handle, Mode));

    public override string Show() => $"fchmod(fd{Slot}, {Oct(Mode)})";
}

internal sealed record FChownOp(int Slot, uint Uid, uint Gid) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.FChown(r.Handle, Uid, Gid));

    public override string Show() => $"fchown(fd{Slot}, {(int)Uid}, {(int)Gid})";
}

internal sealed record FUtimensOp(int Slot, Ts Atime, Ts Mtime) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.FUtimens(r.Handle, Atime, Mtime));

    public override string Show() => $"futimens(fd{Slot}, [{Atime}, {Mtime}])";
}

internal sealed record LinkHandleOp(int Slot, string Path) : HandleOp(Slot)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.LinkHandle(r.Handle, Path));

    public override string Show() => $"linkat(fd{Slot}, \"\", {Q(Path)}, AT_EMPTY_PATH)";
}

internal sealed record MkdirOp(Caller Who, string Path, int Mode) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Mkdir(Path, Mode));

    public override string Show() => $"mkdir({Q(Path)}, {Oct(Mode)})";
}

internal sealed record RmdirOp(Caller Who, string Path) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Rmdir(Path));

    public override string Show() => $"rmdir({Q(Path)})";
}

internal sealed record UnlinkOp(Caller Who, string Path) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Unlink(Path));

    public override string Show() => $"unlink({Q(Path)})";
}

internal sealed record RenameOp(Caller Who, string From, string To, int Flags) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Rename(From, To, Flags));

    public override string Show() =>
        $"renameat2({Q(From)}, {Q(To)}, {Flags switch { 0 => "0", 1 => "NOREPLACE", 2 => "EXCHANGE", _ => "3" }})";
}

internal sealed record LinkOp(Caller Who, string From, string To) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Link(From, To));

    public override string Show() => $"link({Q(From)}, {Q(To)})";
}

internal sealed record SymlinkOp(Caller Who, string Target, string Path) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Symlink(Target, Path));

    public override string Show() => $"symlink({Q(Target)}, {Q(Path)})";
}

internal sealed record ReadLinkOp(Caller Who, string Path) : Op(Who)
{
    public override string Run(Runner r)
    {
        var rc = r.Target.ReadLink(Path, out var t);
        return rc < 0 ? Runner.Err(rc) : Q(t);
    }

    public override string Show() => $"readlink({Q(Path)})";
}

internal sealed record MknodOp(Caller Who, string Path, int Mode, ulong Rdev) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Mknod(Path, Mode, Rdev));

    public override string Show() => $"mknod({Q(Path)}, {Oct(Mode)}, 0x{Rdev:x})";
}

internal sealed record ChmodOp(Caller Who, string Path, int Mode) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Chmod(Path, Mode));

    public override string Show() => $"chmod({Q(Path)}, {Oct(Mode)})";
}

internal sealed record ChownOp(Caller Who, string Path, uint Uid, uint Gid, bool Follow) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Chown(Path, Uid, Gid, Follow));

    public override string Show() =>
        $"{(Follow ? "chown" : "lchown")}({Q(Path)}, {(int)Uid}, {(int)Gid})";
}

internal sealed record UtimensOp(Caller Who, string Path, Ts Atime, Ts Mtime, bool Follow) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Utimens(Path, Atime, Mtime, Follow));

    public override string Show() =>
        $"utimensat({Q(Path)}, [{Atime}, {Mtime}]{(Follow ? string.Empty : ", AT_SYMLINK_NOFOLLOW")})";
}

internal sealed record TruncateOp(Caller Who, string Path, long Length) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Truncate(Path, Length));

    public override string Show() => $"truncate({Q(Path)}, {Length})";
}

internal sealed record StatOp(Caller Who, string Path, bool Follow) : Op(Who)
{
    public override string Run(Runner r)
    {
        var rc = r.Target.Stat(Path, Follow, out var st);
        return rc < 0 ? Runner.Err(rc) : st.ToString();
    }

    public override string Show() => $"{(Follow ? "stat" : "lstat")}({Q(Path)})";
}

internal sealed record AccessOp(Caller Who, string Path, int Mode) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.Access(Path, Mode));

    public override string Show()
    {
        var m = Mode == 0 ? "F_OK" : string.Concat((Mode & 4) != 0 ? "R" : string.Empty, (Mode & 2) != 0 ? "W" : string.Empty, (Mode & 1) != 0 ? "X" : string.Empty) + "_OK";
        return $"faccessat2({Q(Path)}, {m}, AT_EACCESS)";
    }
}

internal sealed record ReadDirOp(Caller Who, string Path) : Op(Who)
{
    public override string Run(Runner r)
    {
        var entries = new List<(string Name, int Type)>();
        var rc = r.Target.ReadDir(Path, entries);
        if (rc < 0)
        {
            return Runner.Err(rc);
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var sb = new StringBuilder("[");
        foreach (var (name, type) in entries)
        {
            sb.Append(CultureInfo.InvariantCulture, $" {name}:{type >> 12}");
        }

        return sb.Append(" ]").ToString();
    }

    public override string Show() => $"readdir({Q(Path)})";
}

internal sealed record SetXattrOp(Caller Who, string Path, string Name, int Length, int Tag, int Flags, bool Follow) : Op(Who)
{
    public static byte[] Value(int length, int tag)
    {
        var v = new byte[length];
        for (var i = 0; i < length; i++)
        {
            v[i] = (byte)('a' + ((i + tag) % 26));
        }

        return v;
    }

    public override string Run(Runner r) =>
        Runner.Ok(r.Target.SetXattr(Path, Name, Value(Length, Tag), Flags, Follow));

    public override string Show() =>
        $"{(Follow ? "setxattr" : "lsetxattr")}({Q(Path)}, {Q(Name)}, {Length} bytes tag {Tag}, " +
        $"{Flags switch { 0 => "0", 1 => "XATTR_CREATE", 2 => "XATTR_REPLACE", _ => "3" }})";
}

internal sealed record GetXattrOp(Caller Who, string Path, string Name, int Size, bool Follow) : Op(Who)
{
    public override string Run(Runner r)
    {
        var buf = r.Scratch.AsSpan(0, Size);
        var rc = r.Target.GetXattr(Path, Name, buf, Follow);
        return rc < 0 ? Runner.Err(rc) : Size == 0 ? $"size {rc}" : Digest.Describe(buf[..rc]);
    }

    public override string Show() => $"{(Follow ? "getxattr" : "lgetxattr")}({Q(Path)}, {Q(Name)}, size {Size})";
}

internal sealed record ListXattrOp(Caller Who, string Path, bool Follow) : Op(Who)
{
    public override string Run(Runner r)
    {
        var names = new List<string>();
        var rc = r.Target.ListXattr(Path, names, Follow);

        // Sorted: the kernel's order is that of its xattr tree, which no API promises.
        names.Sort(string.CompareOrdinal);
        return rc < 0 ? Runner.Err(rc) : "[" + string.Join(' ', names) + "]";
    }

    public override string Show() => $"{(Follow ? "listxattr" : "llistxattr")}({Q(Path)})";
}

internal sealed record RemoveXattrOp(Caller Who, string Path, string Name, bool Follow) : Op(Who)
{
    public override string Run(Runner r) => Runner.Ok(r.Target.RemoveXattr(Path, Name, Follow));

    public override string Show() => $"{(Follow ? "removexattr" : "lremovexattr")}({Q(Path)}, {Q(Name)})";
}

internal sealed record StatFsOp() : Op(Caller.Root)
{
    public override string Run(Runner r)
    {
        if (!r.Target.HasLimits)
        {
            return "skipped";
        }

        var rc = r.Target.StatFs(out var sf);
        return rc < 0 ? Runner.Err(rc) : r.StatFsText(sf);
    }

    public override string Show() => "statfs(\"/\")";
}

internal sealed record SnapshotOp() : Op(Caller.Root)
{
    public override string Run(Runner r) => r.Snapshot();

    public override string Show() => "snapshot()";
}
