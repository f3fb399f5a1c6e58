using System.Globalization;
using System.Text;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// Runs an operation sequence against one target and turns every result into a string
/// (the thing compared). Holds the open-handle slots and switches the caller per operation:
/// path operations run as their own caller, handle operations as the caller that opened the handle.
/// </summary>
internal sealed class Runner(IFsTarget target)
{
    public const int Slots = 4;

    private readonly object?[] slots = new object?[Slots];
    private readonly Caller[] slotCallers = new Caller[Slots];
    private readonly long[] openedAt = new long[Slots];
    private long opens;
    private int current;
    private readonly byte[] scratch = new byte[1 << 17];

    public IFsTarget Target => target;

    public byte[] Scratch => scratch;

    /// <summary>Runs the sequence on the calling thread; the last result is a snapshot of the whole tree.</summary>
    public List<string> Run(IReadOnlyList<Op> ops)
    {
        var results = new List<string>(ops.Count + 1);
        target.Begin();
        try
        {
            foreach (var op in ops)
            {
                var result = Execute(op);
                results.Add(result);
                if (result == "ok" && op is RmdirOp or RenameOp && OpenHandles > 0)
                {
                    removedDirsMayBePinned = true;
                }
                else if (OpenHandles == 0)
                {
                    removedDirsMayBePinned = false;
                }
            }

            // The final snapshot sees the state after every handle is closed (their closing is
            // not compared), so no removed directory is pinned and nothing is masked.
            CloseAll();
            removedDirsMayBePinned = false;
            results.Add(Snapshot());
        }
        finally
        {
            CloseAll();
            target.End();
        }

        return results;
    }

    private int OpenHandles => slots.Count(s => s is not null);

    private void CloseAll()
    {
        for (var i = 0; i < Slots; i++)
        {
            if (slots[i] is { } h)
            {
                target.Close(h);
                slots[i] = null;
            }
        }
    }

    /// <summary>
    /// Excluded from comparison: in the kernel an open file's dentry pins its parent
    /// directories, so a directory removed while a file opened beneath it is still open keeps
    /// its inode (and inode space) until that file is closed; statfs's free inodes show it.
    /// The engine frees the directory at once. Known open discrepancy (see
    /// docs/differential-findings.md); while it can apply, free inodes are not compared.
    /// </summary>
    private bool removedDirsMayBePinned;

    public string StatFsText(FsStatFs sf) =>
        removedDirsMayBePinned ? (sf with { FilesFree = -1 }).ToString().Replace("ffree=-1", "ffree=? (removed dir may be pinned)", StringComparison.Ordinal) : sf.ToString();

    private string Execute(Op op)
    {
        Caller caller;
        var note = string.Empty;
        if (op is HandleOp h)
        {
            // An empty slot falls back to the handle opened last, so that handle operations
            // mostly have something to work on (also after shrinking removed the open).
            current = h.Slot;
            if (slots[current] is null)
            {
                current = -1;
                for (var i = 0; i < Slots; i++)
                {
                    if (slots[i] is not null && (current < 0 || openedAt[i] > openedAt[current]))
                    {
                        current = i;
                    }
                }

                if (current < 0)
                {
                    return "no handle";
                }

                note = $"(fd{current}) ";
            }

            caller = slotCallers[current];
        }
        else
        {
            caller = op.Who;
        }

        if (!target.SupportsCallers && !caller.IsRoot)
        {
            caller = Caller.Root; // generators avoid this; a shrunk sequence may not
        }

        target.SetCaller(caller);
        try
        {
            return note + op.Run(this);
        }
        finally
        {
            target.RestoreRoot();
        }
    }

    /// <summary>The handle the current handle operation works on.</summary>
    public object Handle => slots[current]!;

    /// <summary>
    /// Open into a slot; on success the handle it held before is closed (that close is not
    /// itself compared), on failure the slot keeps its handle.
    /// </summary>
    public string OpenInto(int slot, Caller caller, string path, int flags, int mode)
    {
        // FIFOs, sockets and device nodes are opened by the VFS and drivers, not by tmpfs
        // (a FIFO would block, a device node would reach a real device): not compared.
        if (target.Stat(path, follow: (flags & Native.O_NOFOLLOW) == 0, out var st) >= 0 && (st.Mode & 0xF000) is 0x1000 or 0x2000 or 0x6000 or 0xC000)
        {
            return "special file, not opened";
        }

        var rc = target.Open(path, flags, mode, out var handle);
        if (rc < 0)
        {
            return Err(rc);
        }

        if (slots[slot] is { } old)
        {
            target.Close(old);
        }

        slots[slot] = handle;
        slotCallers[slot] = caller;
        openedAt[slot] = ++opens;
        return "ok";
    }

    public string CloseCurrent()
    {
        var rc = target.Close(slots[current]!);
        slots[current] = null;
        return Ok(rc);
    }

    public static string Err(long rc) =>
        rc == EngineTarget.Unexpected ? "EXCEPTION " + EngineTarget.TakeUnexpected() : ((Errno)(int)-rc).ToString();

    public static string Ok(long rc) => rc < 0 ? Err(rc) : "ok";

    public static string Num(long rc) => rc < 0 ? Err(rc) : rc.ToString(CultureInfo.InvariantCulture);

    /// <summary>The bytes a write with <paramref name="tag"/> writes (tag 0: zeros).</summary>
    public static void Fill(Span<byte> buffer, int tag)
    {
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = tag == 0 ? (byte)0 : (byte)(1 + (((i * 7) + tag) % 255));
        }
    }

    /// <summary>
    /// The whole tree, walked as root: lstat of every entry (hard links shown as links to the
    /// first path of their inode), symlink targets, file contents, sorted xattrs, data extents.
    /// </summary>
    public string Snapshot()
    {
        var sb = new StringBuilder("snapshot");
        var inodes = new Dictionary<ulong, string>();
        Walk("/", sb, inodes, 0);
        if (target.HasLimits && target.StatFs(out var sf) >= 0)
        {
            sb.Append("\n  statfs ").Append(StatFsText(sf));
        }

        return sb.ToString();
    }

    private void Walk(string path, StringBuilder sb, Dictionary<ulong, string> inodes, int depth)
    {
        sb.Append("\n  ").Append(path).Append(' ');
        var rc = target.Stat(path, follow: false, out var st);
        if (rc < 0)
        {
            sb.Append(Err(rc));
            return;
        }

        if (inodes.TryGetValue(st.Ino, out var first))
        {
            sb.Append("= ").Append(first).Append(' ');
        }
        else
        {
            inodes[st.Ino] = path;
        }

        sb.Append(st);
        DescribeXattrs(path, sb);
        switch (st.Mode & 0xF000)
        {
            case 0xA000:
                rc = target.ReadLink(path, out var t);
                sb.Append(" -> ").Append(rc < 0 ? Err(rc) : Quote(t));
                break;
            case 0x8000:
                DescribeFile(path, sb);
                break;
            case 0x4000 when depth < 8:
                var entries = new List<(string Name, int Type)>();
                rc = target.ReadDir(path, entries);
                if (rc < 0)
                {
                    sb.Append(" readdir ").Append(Err(rc));
                    break;
                }

                entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                foreach (var (name, _) in entries)
                {
                    Walk(path == "/" ? "/" + name : path + "/" + name, sb, inodes, depth + 1);
                }

                break;
        }
    }

    private void DescribeXattrs(string path, StringBuilder sb)
    {
        var names = new List<string>();
        var rc = target.ListXattr(path, names, follow: false);
        if (rc < 0)
        {
            sb.Append(" xattrs ").Append(Err(rc));
            return;
        }

        names.Sort(string.CompareOrdinal);
        foreach (var name in names)
        {
            rc = target.GetXattr(path, name, scratch, follow: false);
            sb.Append(' ').Append(name).Append('=').Append(rc < 0 ? Err(rc) : Digest.Describe(scratch.AsSpan(0, rc)));
        }
    }

    private void DescribeFile(string path, StringBuilder sb)
    {
        var rc = target.Open(path, Native.O_RDONLY | Native.O_NOATIME | Native.O_NOFOLLOW, 0, out var h);
        if (rc < 0)
        {
            sb.Append(" open ").Append(Err(rc));
            return;
        }

        try
        {
            // Data extents as SEEK_DATA/SEEK_HOLE report them, then the contents of those
            // extents (holes read as zeros, so nothing is lost by skipping them).
            var extents = new List<(long Start, long End)>();
            long pos = 0;
            while (extents.Count < 64)
            {
                var data = target.Seek(h!, pos, 3);
                if (data < 0)
                {
                    if (data != -(int)Errno.ENXIO)
                    {
                        sb.Append(" seek_data ").Append(Err(data));
                    }

                    break;
                }

                var hole = target.Seek(h!, data, 4);
                if (hole < 0)
                {
                    sb.Append(" seek_hole ").Append(Err(hole));
                    break;
                }

                extents.Add((data, hole));
                pos = hole;
            }

            sb.Append(" extents=");
            foreach (var (s, e) in extents)
            {
                sb.Append(CultureInfo.InvariantCulture, $"[{s},{e})");
            }

            var digest = new Digest();
            foreach (var (s, e) in extents)
            {
                for (var off = s; off < e;)
                {
                    var n = target.Read(h!, scratch.AsSpan(0, (int)Math.Min(scratch.Length, e - off)), off);
                    if (n <= 0)
                    {
                        if (n < 0)
                        {
                            sb.Append(" read ").Append(Err(n));
                        }

                        break;
                    }

                    digest.Add(off, scratch.AsSpan(0, n));
                    off += n;
                }
            }

            sb.Append(" content=").Append(digest);
        }
        finally
        {
            target.Close(h!);
        }
    }

    public static string Quote(string s) => s.Length > 60 ? $"\"{s[..40]}...\"({s.Length})" : $"\"{s}\"";
}

/// <summary>
/// A position-aware digest of file contents that ignores zero bytes: the runs of non-zero
/// bytes and a hash of them. Equal contents give equal digests however they were read.
/// </summary>
internal sealed class Digest
{
    private readonly List<(long Start, long End)> runs = [];
    private ulong hash = 14695981039346656037UL;

    public void Add(long offset, ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == 0)
            {
                continue;
            }

            var pos = offset + i;
            if (runs.Count > 0 && runs[^1].End == pos)
            {
                runs[^1] = (runs[^1].Start, pos + 1);
            }
            else
            {
                runs.Add((pos, pos + 1));
            }

            hash = (hash ^ (ulong)pos ^ ((ulong)data[i] << 56)) * 1099511628211UL;
        }
    }

    public override string ToString()
    {
        if (runs.Count == 0)
        {
            return "zeros";
        }

        var sb = new StringBuilder();
        for (var i = 0; i < Math.Min(runs.Count, 12); i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"[{runs[i].Start},{runs[i].End})");
        }

        if (runs.Count > 12)
        {
            sb.Append(CultureInfo.InvariantCulture, $"+{runs.Count - 12} runs");
        }

        return sb.Append(CultureInfo.InvariantCulture, $"#{hash:x16}").ToString();
    }

    public static string Describe(ReadOnlySpan<byte> data)
    {
        if (data.Length <= 24)
        {
            return $"\"{Encoding.ASCII.GetString(data)}\"";
        }

        var d = new Digest();
        d.Add(0, data);
        return $"{data.Length}b{d}";
    }
}
