using System.Runtime.CompilerServices;
using System.Text;
using Tmpfs.Fuse.Wire;
using Tmpfs.Shmem;

namespace Tmpfs.Fuse;

/// <summary>The request handlers: parse the typed view, call the engine's node API, format the reply.</summary>
internal sealed partial class FuseSession
{
    private void Lookup(Worker w, in Request r)
    {
        var name = Name(Request.TakeStringOf(r.Body));
        if (Nodes.TryLookup((long)r.NodeId, name, Caller(r), out var entry))
        {
            SendEntry(w, r.Unique, entry);
        }
        else if (Options.EntryTimeout > TimeSpan.Zero)
        {
            // A negative entry: node id 0 with a timeout lets the kernel cache the miss.
            ref var negative = ref w.Reply.Struct<EntryOut>();
            Encode.Timeout(Options.EntryTimeout, out negative.EntryValid, out negative.EntryValidNsec);
            Reply(w, r.Unique, w.Reply.Send<EntryOut>(r.Unique));
        }
        else
        {
            Reply(w, r.Unique, w.Reply.SendError(r.Unique, (int)Errno.ENOENT));
        }
    }

    /// <summary>An entry reply; if the kernel no longer wants it (ENOENT), it took no reference: give the lookup back.</summary>
    private void SendEntry(Worker w, ulong unique, in StatInfo entry, int extra = 0)
    {
        ref var e = ref w.Reply.Struct<EntryOut>();
        Encode.Entry(entry, ref e, Options.EntryTimeout, Options.AttributeTimeout);
        var result = w.Reply.Send(unique, Unsafe.SizeOf<EntryOut>() + extra);
        if (result == -Native.ENOENT)
        {
            Nodes.Forget(entry.Ino, 1);
        }

        Reply(w, unique, result);
    }

    private void Forget(in Request r)
    {
        try
        {
            Nodes.Forget((long)r.NodeId, (long)r.Arg<ForgetIn>().Nlookup);
        }
        catch (Exception e)
        {
            Log($"fuse: FORGET of {r.NodeId} failed: {e}");
        }
    }

    private void BatchForget(in Request r)
    {
        try
        {
            var count = r.Arg<BatchForgetIn>().Count;
            var items = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ForgetOne>(r.After<BatchForgetIn>());
            for (var i = 0; i < count && i < items.Length; i++)
            {
                Nodes.Forget((long)items[i].NodeId, (long)items[i].Nlookup);
            }
        }
        catch (Exception e)
        {
            Log($"fuse: BATCH_FORGET failed: {e}");
        }
    }

    private void SendAttr(Worker w, ulong unique, in StatInfo s)
    {
        ref var a = ref w.Reply.Struct<AttrOut>();
        Encode.Timeout(Options.AttributeTimeout, out a.AttrValid, out a.AttrValidNsec);
        Encode.Attr(s, ref a.Attr);
        Reply(w, unique, w.Reply.Send<AttrOut>(unique));
    }

    private void Getattr(Worker w, in Request r) => SendAttr(w, r.Unique, Nodes.GetAttributes((long)r.NodeId));

    /// <summary>
    /// FUSE_STATX (7.39): what GETATTR answers, and the birth time, which only statx carries
    /// (the kernel's tmpfs reports it: shmem_getattr). The kernel asks for it when a caller's
    /// statx mask goes past the basic stats (`stat` asks for STATX_BTIME); an ENOSYS here would
    /// make it fall back to GETATTR for good and report no birth time.
    /// </summary>
    private void Statx(Worker w, in Request r)
    {
        var s = Nodes.GetAttributes((long)r.NodeId);
        ref var o = ref w.Reply.Struct<StatxOut>();
        Encode.Timeout(Options.AttributeTimeout, out o.AttrValid, out o.AttrValidNsec);
        Encode.Statx(s, ref o.Stat);
        Reply(w, r.Unique, w.Reply.Send<StatxOut>(r.Unique));
    }

    private void Setattr(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<SetattrIn>();
        var valid = (SetattrValid)a.Valid;
        FileHandle? handle = null;
        if ((valid & SetattrValid.Fh) != 0)
        {
            handle = Files.Get(a.Fh); // a directory's fh is not in this table: fall back to the node
        }

        var changes = new AttributeChanges
        {
            Mode = (valid & SetattrValid.Mode) != 0 ? (int)(a.Mode & 0xFFF) : null,
            Uid = (valid & SetattrValid.Uid) != 0 ? a.Uid : null,
            Gid = (valid & SetattrValid.Gid) != 0 ? a.Gid : null,
            Size = (valid & SetattrValid.Size) != 0 ? (long)a.Size : null,
            Atime = (valid & SetattrValid.AtimeNow) != 0 ? Timespec.Now
                : (valid & SetattrValid.Atime) != 0 ? new Timespec((long)a.Atime, a.AtimeNsec) : Timespec.Omit,
            Mtime = (valid & SetattrValid.MtimeNow) != 0 ? Timespec.Now
                : (valid & SetattrValid.Mtime) != 0 ? new Timespec((long)a.Mtime, a.MtimeNsec) : Timespec.Omit,
            KillSuidGid = (valid & SetattrValid.KillSuidgid) != 0,
        };
        SendAttr(w, r.Unique, Nodes.SetAttributes((long)r.NodeId, changes, Caller(r), handle));
    }

    private void Readlink(Worker w, in Request r)
    {
        var target = Nodes.ReadLink((long)r.NodeId);
        var n = Encoding.UTF8.GetBytes(target, w.Reply.Payload);
        Reply(w, r.Unique, w.Reply.Send(r.Unique, n));
    }

    private void Symlink(Worker w, in Request r)
    {
        var body = r.Body;
        var name = Name(Request.TakeString(ref body));
        var target = Name(Request.TakeString(ref body));
        SendEntry(w, r.Unique, Nodes.Symlink((long)r.NodeId, name, target, Caller(r)));
    }

    private void Mknod(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<MknodIn>();
        var name = Name(Request.TakeStringOf(r.After<MknodIn>()));

        // The kernel applied the umask (no DONT_MASK). rdev is new_encode_dev, which is
        // glibc's dev_t encoding for majors below 4096: stored as is.
        SendEntry(w, r.Unique, Nodes.Mknod((long)r.NodeId, name, (int)a.Mode, a.Rdev, Caller(r)));
    }

    private void Mkdir(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<MkdirIn>();
        var name = Name(Request.TakeStringOf(r.After<MkdirIn>()));
        SendEntry(w, r.Unique, Nodes.Mkdir((long)r.NodeId, name, (int)a.Mode, Caller(r)));
    }

    private void Unlink(Worker w, in Request r)
    {
        Nodes.Unlink((long)r.NodeId, Name(Request.TakeStringOf(r.Body)), Caller(r));
        Empty(w, r);
    }

    private void Rmdir(Worker w, in Request r)
    {
        Nodes.Rmdir((long)r.NodeId, Name(Request.TakeStringOf(r.Body)), Caller(r));
        Empty(w, r);
    }

    private void Rename(Worker w, in Request r, bool two)
    {
        ulong newDir;
        RenameFlags flags;
        ReadOnlySpan<byte> names;
        if (two)
        {
            ref readonly var a = ref r.Arg<Rename2In>();
            newDir = a.NewDir;
            flags = (RenameFlags)a.Flags;
            names = r.After<Rename2In>();
        }
        else
        {
            newDir = r.Arg<RenameIn>().NewDir;
            flags = RenameFlags.None;
            names = r.After<RenameIn>();
        }

        var oldName = Name(Request.TakeString(ref names));
        var newName = Name(Request.TakeString(ref names));
        Nodes.Rename((long)r.NodeId, oldName, (long)newDir, newName, flags, Caller(r));
        Empty(w, r);
    }

    private void Link(Worker w, in Request r)
    {
        var oldNode = r.Arg<LinkIn>().OldNodeId;
        var name = Name(Request.TakeStringOf(r.After<LinkIn>()));
        SendEntry(w, r.Unique, Nodes.Link((long)oldNode, (long)r.NodeId, name, Caller(r)));
    }

    private void Open(Worker w, in Request r)
    {
        var flags = (OpenFlags)r.Arg<OpenIn>().Flags;
        var handle = Nodes.Open((long)r.NodeId, flags, Caller(r));
        SendOpen(w, r.Unique, handle, 0);
    }

    /// <summary>An open reply (after an entry for CREATE/TMPFILE); if the kernel no longer wants it, the handle is closed again.</summary>
    private void SendOpen(Worker w, ulong unique, FileHandle handle, int at, in StatInfo entry = default)
    {
        var fh = Files.Add(handle);
        var payload = w.Reply.Payload;
        ref var o = ref System.Runtime.InteropServices.MemoryMarshal.AsRef<OpenOut>(payload[at..]);
        o = default;
        o.Fh = fh;

        // Every write passes through the kernel, so its page cache stays right across opens.
        // NOFLUSH: close(2) sends no FLUSH (fuse_flush returns at once). Ours had nothing to
        // do (no writeback cache, locks are the kernel's), so it was a round trip per close.
        // DIRECT_IO (an option): no copy of the data in the kernel's page cache at all.
        o.OpenFlags = (uint)(OpenOutFlags.KeepCache | OpenOutFlags.NoFlush | (Options.DirectIo ? OpenOutFlags.DirectIo : 0));
        var result = w.Reply.Send(unique, at + Unsafe.SizeOf<OpenOut>());
        if (result == -Native.ENOENT)
        {
            Files.Remove(fh);
            handle.Dispose();
            if (at != 0)
            {
                Nodes.Forget(entry.Ino, 1);
            }
        }

        Reply(w, unique, result);
    }

    private void Create(Worker w, in Request r, bool tmpfile)
    {
        ref readonly var a = ref r.Arg<CreateIn>();
        var flags = (OpenFlags)a.Flags;
        StatInfo entry;
        FileHandle handle;
        if (tmpfile)
        {
            handle = Nodes.CreateTemporary((long)r.NodeId, flags & ~OpenFlags.TmpFile, (int)a.Mode, Caller(r), out entry);
        }
        else
        {
            var name = Name(Request.TakeStringOf(r.After<CreateIn>()));
            handle = Nodes.Create((long)r.NodeId, name, flags, (int)a.Mode, Caller(r), out entry);
        }

        ref var e = ref w.Reply.Struct<EntryOut>();
        Encode.Entry(entry, ref e, Options.EntryTimeout, Options.AttributeTimeout);
        SendOpen(w, r.Unique, handle, Unsafe.SizeOf<EntryOut>(), entry);
    }

    private FileHandle File(ulong fh) => Files.Get(fh) ?? throw new TmpfsException(Errno.EBADF, "unknown file handle");

    private DirectoryHandle Directory(ulong fh) => Directories.Get(fh) ?? throw new TmpfsException(Errno.EBADF, "unknown directory handle");

    /// <summary>
    /// READ, without a copy on our side: the reply is written with writev straight from the
    /// page frames, holding a reference on each until the kernel has copied them (holes from
    /// a shared zero page). The one copy left is the kernel's, into the caller's page cache.
    /// </summary>
    private void Read(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<ReadIn>();
        var size = (int)Math.Min(a.Size, (uint)MaxWrite);
        var offset = (long)a.Offset;
        var file = File(a.Fh);
        var pfns = w.Pages;
        var n = file.GetPages(offset, size, pfns, out var pages);
        try
        {
            w.Reply.BeginVector();
            for (var i = 0; i < pages; i++)
            {
                var (inPage, length) = PageCacheSpans.Slice(offset, n, i);
                w.Reply.AddPage(file, pfns[i], inPage, length);
            }

            Reply(w, r.Unique, w.Reply.SendVector(r.Unique));
        }
        finally
        {
            file.PutPages(pfns.AsSpan(0, pages));
        }
    }

    private void Write(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<WriteIn>();
        var data = r.After<WriteIn>();
        if (data.Length < a.Size)
        {
            throw new ProtocolException($"WRITE of {a.Size} bytes carries {data.Length}");
        }

        // HANDLE_KILLPRIV_V2: the kernel leaves set-id clearing to us. The engine's write
        // clears them as file_remove_privs does (for the opener, who is the writer here);
        // KILL_SUIDGID says the writer lacks CAP_FSETID, which is the same rule.
        var n = File(a.Fh).Write(data[..(int)a.Size], (long)a.Offset);
        ref var o = ref w.Reply.Struct<WriteOut>();
        o.Size = (uint)n;
        Reply(w, r.Unique, w.Reply.Send<WriteOut>(r.Unique));
    }

    private void Statfs(Worker w, in Request r)
    {
        var s = Fs.StatFs();
        ref var k = ref w.Reply.Struct<Kstatfs>();
        k.Blocks = (ulong)s.Blocks;
        k.Bfree = (ulong)s.BlocksFree;
        k.Bavail = (ulong)s.BlocksAvailable;
        k.Files = (ulong)s.Files;
        k.Ffree = (ulong)s.FilesFree;
        k.Bsize = (uint)s.BlockSize;
        k.Namelen = (uint)s.NameLength;
        k.Frsize = (uint)s.FragmentSize;
        Reply(w, r.Unique, w.Reply.Send<Kstatfs>(r.Unique));
    }

    private void Release(Worker w, in Request r)
    {
        Files.Remove(r.Arg<ReleaseIn>().Fh)?.Dispose();
        Empty(w, r);
    }

    private void Flush(Worker w, in Request r)
    {
        _ = File(r.Arg<FlushIn>().Fh);
        Empty(w, r);
    }

    private void Fsync(Worker w, in Request r)
    {
        File(r.Arg<FsyncIn>().Fh).Fsync();
        Empty(w, r);
    }

    private void Setxattr(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<SetxattrIn>();
        var rest = r.After(FuseProtocol.CompatSetxattrInSize);
        var name = Name(Request.TakeString(ref rest));
        if (rest.Length < a.Size)
        {
            throw new ProtocolException("SETXATTR value shorter than its size");
        }

        Nodes.SetXattr((long)r.NodeId, name, rest[..(int)a.Size], (XattrFlags)a.Flags, Caller(r));
        Empty(w, r);
    }

    private void Getxattr(Worker w, in Request r, bool list)
    {
        var size = r.Arg<GetxattrIn>().Size;
        var node = (long)r.NodeId;
        var cred = Caller(r);
        if (size == 0)
        {
            var needed = list
                ? Nodes.ListXattr(node, [], cred)
                : Nodes.TryGetXattr(node, Name(Request.TakeStringOf(r.After<GetxattrIn>())), [], cred);
            if (needed < 0)
            {
                Reply(w, r.Unique, w.Reply.SendError(r.Unique, (int)Errno.ENODATA));
                return;
            }

            ref var o = ref w.Reply.Struct<GetxattrOut>();
            o.Size = (uint)needed;
            Reply(w, r.Unique, w.Reply.Send<GetxattrOut>(r.Unique));
            return;
        }

        var buffer = w.Reply.Payload[..(int)Math.Min(size, (uint)ReplyCapacity)];
        var n = list
            ? Nodes.ListXattr(node, buffer, cred)
            : Nodes.TryGetXattr(node, Name(Request.TakeStringOf(r.After<GetxattrIn>())), buffer, cred);
        Reply(w, r.Unique, n < 0 ? w.Reply.SendError(r.Unique, (int)Errno.ENODATA) : w.Reply.Send(r.Unique, n));
    }

    private void Removexattr(Worker w, in Request r)
    {
        Nodes.RemoveXattr((long)r.NodeId, Name(Request.TakeStringOf(r.Body)), Caller(r));
        Empty(w, r);
    }

    private void Opendir(Worker w, in Request r)
    {
        var handle = Nodes.OpenDirectory((long)r.NodeId, Caller(r));
        var fh = Directories.Add(handle);
        ref var o = ref w.Reply.Struct<OpenOut>();
        o.Fh = fh;
        var result = w.Reply.Send<OpenOut>(r.Unique);
        if (result == -Native.ENOENT)
        {
            Directories.Remove(fh);
            handle.Dispose();
        }

        Reply(w, r.Unique, result);
    }

    private void Readdir(Worker w, in Request r, bool plus)
    {
        ref readonly var a = ref r.Arg<ReadIn>();
        var directory = Directory(a.Fh);
        w.DirPosition = 0;
        w.DirLimit = (int)Math.Min(a.Size, (uint)ReplyCapacity);
        Nodes.ReadDirectory(directory, (long)a.Offset, plus, plus ? w.DirPlusVisitor : w.DirVisitor);

        // A READDIRPLUS reply that does not arrive leaves the kernel without the entries'
        // references, but it counts them only as it links them: libfuse and go-fuse accept
        // this small leak too; it ends with the mount.
        Reply(w, r.Unique, w.Reply.Send(r.Unique, w.DirPosition));
    }

    private void Releasedir(Worker w, in Request r)
    {
        Directories.Remove(r.Arg<ReleaseIn>().Fh)?.Dispose();
        Empty(w, r);
    }

    private void Fsyncdir(Worker w, in Request r)
    {
        _ = Directory(r.Arg<FsyncIn>().Fh);
        Empty(w, r);
    }

    private void Access(Worker w, in Request r)
    {
        Nodes.Access((long)r.NodeId, (AccessMode)(r.Arg<AccessIn>().Mask & 7), Caller(r));
        Empty(w, r);
    }

    private void Fallocate(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<FallocateIn>();
        File(a.Fh).Fallocate((FallocateMode)a.Mode, (long)a.Offset, (long)a.Length);
        Empty(w, r);
    }

    private void Lseek(Worker w, in Request r)
    {
        ref readonly var a = ref r.Arg<LseekIn>();
        var offset = File(a.Fh).Seek((long)a.Offset, (Whence)a.Whence);
        ref var o = ref w.Reply.Struct<LseekOut>();
        o.Offset = (ulong)offset;
        Reply(w, r.Unique, w.Reply.Send<LseekOut>(r.Unique));
    }

    /// <summary>copy_file_range: copied through this thread's reply buffer, a chunk at a time.</summary>
    private void CopyFileRange(Worker w, in Request r, bool wide)
    {
        ref readonly var a = ref r.Arg<CopyFileRangeIn>();
        if (a.Flags != 0)
        {
            throw new TmpfsException(Errno.EINVAL, "copy_file_range flags must be 0");
        }

        var source = File(a.FhIn);
        var target = File(a.FhOut);
        var length = wide ? a.Len : Math.Min(a.Len, uint.MaxValue & ~4095UL);
        var chunk = w.Reply.Payload[..MaxWrite];
        ulong copied = 0;
        while (copied < length)
        {
            var want = (int)Math.Min((ulong)chunk.Length, length - copied);
            var n = source.Read(chunk[..want], (long)(a.OffIn + copied));
            if (n == 0)
            {
                break;
            }

            var written = target.Write(chunk[..n], (long)(a.OffOut + copied));
            copied += (ulong)written;
            if (written < n)
            {
                break;
            }
        }

        if (wide)
        {
            w.Reply.Struct<CopyFileRangeOut>().BytesCopied = copied;
            Reply(w, r.Unique, w.Reply.Send<CopyFileRangeOut>(r.Unique));
        }
        else
        {
            w.Reply.Struct<WriteOut>().Size = (uint)copied;
            Reply(w, r.Unique, w.Reply.Send<WriteOut>(r.Unique));
        }
    }

    private void Empty(Worker w, in Request r) => Reply(w, r.Unique, w.Reply.Send(r.Unique, 0));
}
