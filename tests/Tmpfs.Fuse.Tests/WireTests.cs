using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse.Tests;

/// <summary>The wire format: struct sizes against fuse.h, request parsing, reply formatting, and dispatch without a kernel.</summary>
public sealed class WireTests
{
    [Theory]
    [InlineData("0", 1)]
    [InlineData("0-1\n", 2)]
    [InlineData("0-3,8-11", 8)]
    [InlineData("0,2,4-5", 4)]
    public void IoUringQueueCountIsTheNumberOfPossibleCpus(string cpulist, int queues)
    {
        // fs/fuse/dev_uring.c: nr_queues = num_possible_cpus(), a count, not the highest id + 1.
        Assert.Equal(queues, FuseMount.CountCpus(cpulist));
    }

    [Fact]
    public void StructSizesMatchTheKernelHeader()
    {
        // Sizes from gcc on include/linux/fuse.h (docs notes) and the header itself.
        Assert.Equal(40, Unsafe.SizeOf<InHeader>());
        Assert.Equal(16, Unsafe.SizeOf<OutHeader>());
        Assert.Equal(88, Unsafe.SizeOf<FuseAttr>());
        Assert.Equal(128, Unsafe.SizeOf<EntryOut>());
        Assert.Equal(104, Unsafe.SizeOf<AttrOut>());
        Assert.Equal(64, Unsafe.SizeOf<InitIn>());
        Assert.Equal(64, Unsafe.SizeOf<InitOut>());
        Assert.Equal(16, Unsafe.SizeOf<OpenOut>());
        Assert.Equal(40, Unsafe.SizeOf<ReadIn>());
        Assert.Equal(40, Unsafe.SizeOf<WriteIn>());
        Assert.Equal(88, Unsafe.SizeOf<SetattrIn>());
        Assert.Equal(152, Unsafe.SizeOf<Direntplus>());
        Assert.Equal(24, Unsafe.SizeOf<Dirent>());
        Assert.Equal(80, Unsafe.SizeOf<Kstatfs>());
        Assert.Equal(16, Unsafe.SizeOf<CreateIn>());
        Assert.Equal(24, Unsafe.SizeOf<ReleaseIn>());
        Assert.Equal(16, Unsafe.SizeOf<MknodIn>());
        Assert.Equal(16, Unsafe.SizeOf<Rename2In>());
        Assert.Equal(32, Unsafe.SizeOf<FallocateIn>());
        Assert.Equal(24, Unsafe.SizeOf<LseekIn>());
        Assert.Equal(56, Unsafe.SizeOf<CopyFileRangeIn>());
        Assert.Equal(16, Unsafe.SizeOf<ForgetOne>());
        Assert.Equal(16, Unsafe.SizeOf<GetattrIn>());
        Assert.Equal(24, Unsafe.SizeOf<StatxIn>()); // 7.39, from the kernel's uapi header
        Assert.Equal(16, Unsafe.SizeOf<SxTime>());
        Assert.Equal(256, Unsafe.SizeOf<FuseStatx>());
        Assert.Equal(288, Unsafe.SizeOf<StatxOut>());
        Assert.Equal(8, Unsafe.SizeOf<SetxattrIn>());
        Assert.Equal(FuseProtocol.CompatSetxattrInSize, Unsafe.SizeOf<SetxattrIn>());
    }

    [Fact]
    public void OffsetsOfKeyFieldsMatch()
    {
        Assert.Equal(16, (int)Marshal.OffsetOf<InHeader>(nameof(InHeader.NodeId)));
        Assert.Equal(36, (int)Marshal.OffsetOf<InHeader>(nameof(InHeader.TotalExtlen)));
        Assert.Equal(40, (int)Marshal.OffsetOf<EntryOut>(nameof(EntryOut.Attr)));
        Assert.Equal(60, (int)Marshal.OffsetOf<FuseAttr>(nameof(FuseAttr.Mode)));
        Assert.Equal(28, (int)Marshal.OffsetOf<FuseStatx>(nameof(FuseStatx.Mode)));
        Assert.Equal(32, (int)Marshal.OffsetOf<FuseStatx>(nameof(FuseStatx.Ino)));
        Assert.Equal(80, (int)Marshal.OffsetOf<FuseStatx>(nameof(FuseStatx.Btime)));
        Assert.Equal(128, (int)Marshal.OffsetOf<FuseStatx>(nameof(FuseStatx.RdevMajor)));
        Assert.Equal(32, (int)Marshal.OffsetOf<StatxOut>(nameof(StatxOut.Stat)));
        Assert.Equal(28, (int)Marshal.OffsetOf<InitOut>(nameof(InitOut.MaxPages)));
        Assert.Equal(32, (int)Marshal.OffsetOf<InitOut>(nameof(InitOut.Flags2)));
        Assert.Equal(68, (int)Marshal.OffsetOf<SetattrIn>(nameof(SetattrIn.Mode)));
    }

    [Fact]
    public void RequestViewParsesHeaderStructAndNames()
    {
        var message = Build(Opcode.Rename, unique: 77, node: 5, s => { s.Add(BitConverter.GetBytes(9UL)); s.Add(Z("old")); s.Add(Z("new")); });
        var r = new Request(message);
        Assert.Equal(Opcode.Rename, r.Opcode);
        Assert.Equal(77UL, r.Unique);
        Assert.Equal(5UL, r.NodeId);
        Assert.Equal(1000u, r.Header.Uid);
        Assert.Equal(9UL, r.Arg<RenameIn>().NewDir);
        var names = r.After<RenameIn>();
        Assert.Equal("old", Encoding.UTF8.GetString(Request.TakeString(ref names)));
        Assert.Equal("new", Encoding.UTF8.GetString(Request.TakeString(ref names)));
        Assert.True(names.IsEmpty);
    }

    [Fact]
    public void MalformedRequestsAreRejected()
    {
        Assert.Throws<ProtocolException>(() => new Request(new byte[10]));
        var message = Build(Opcode.Lookup, 1, 1, s => s.Add(Encoding.UTF8.GetBytes("no-nul")));
        Assert.Throws<ProtocolException>(() => Request.TakeStringOf(new Request(message).Body).Length);
        var shortRead = Build(Opcode.Read, 1, 1, s => s.Add(new byte[8]));
        Assert.Throws<ProtocolException>(() => new Request(shortRead).Arg<ReadIn>().Fh);
        message[0] = 200; // header says longer than what was read
        Assert.Throws<ProtocolException>(() => new Request(message));
    }

    [Fact]
    public void DirentsArePaddedToEightBytes()
    {
        var buffer = new byte[64];
        var used = Encode.Dirent(buffer, 12, 4, FileModes.Directory, "abc", plus: false, out _);
        Assert.Equal(32, used); // 24 + 3 -> 32
        var d = MemoryMarshal.Read<Dirent>(buffer);
        Assert.Equal(12UL, d.Ino);
        Assert.Equal(4UL, d.Off);
        Assert.Equal(3u, d.Namelen);
        Assert.Equal(4u, d.Type); // DT_DIR
        Assert.Equal("abc", Encoding.UTF8.GetString(buffer, 24, 3));
        Assert.Equal(0, Encode.Dirent(buffer.AsSpan(0, 31), 12, 4, FileModes.Regular, "abc", plus: false, out _));
        Assert.Equal(160, Encode.Dirent(new byte[200], 1, 1, FileModes.Regular, "x", plus: true, out _)); // 152 + 1 -> 160
    }

    [Fact]
    public void DispatchNegotiatesInitAndAnswersLookupsWithoutAKernel()
    {
        using var memory = new MemoryManager(16 << 20);
        var fs = memory.Mount();
        var session = new FuseSession(fs, new FuseMountOptions());
        using var w = new Worker(session, -1, 1 << 16, 1 << 16);
        var replies = new List<byte[]>();
        w.Reply.Sink = span =>
        {
            replies.Add(span.ToArray());
            return 0;
        };

        var initIn = new InitIn { Major = 7, Minor = 45, MaxReadahead = 131072, Flags = 0x7fffffff };
        session.Dispatch(w, Build(Opcode.Init, 1, 0, s => s.Add(Bytes(initIn))));
        var header = MemoryMarshal.Read<OutHeader>(replies[0]);
        Assert.Equal(0, header.Error);
        Assert.Equal(16u + 64u, header.Len);
        var initOut = MemoryMarshal.Read<InitOut>(replies[0].AsSpan(16));
        Assert.Equal(7u, initOut.Major);
        Assert.Equal(38u, initOut.Minor);
        Assert.Equal(1u << 20, initOut.MaxWrite);
        Assert.Equal(256, initOut.MaxPages);
        Assert.NotEqual(0u, initOut.Flags & (uint)InitFlags.DoReaddirplus);
        Assert.Equal(0u, initOut.Flags & (uint)InitFlags.WritebackCache);

        fs.Mkdir("/d", 0x1ED);
        session.Dispatch(w, Build(Opcode.Lookup, 2, 1, s => s.Add(Z("d"))));
        var entry = MemoryMarshal.Read<EntryOut>(replies[1].AsSpan(16));
        Assert.Equal((ulong)fs.Stat("/d").Ino, entry.NodeId);
        Assert.Equal(1, fs.Nodes.LookupCount((long)entry.NodeId));

        // A miss is a negative entry (node id 0), which the kernel may cache.
        session.Dispatch(w, Build(Opcode.Lookup, 3, 1, s => s.Add(Z("missing"))));
        Assert.Equal(0, MemoryMarshal.Read<OutHeader>(replies[2]).Error);
        Assert.Equal(0UL, MemoryMarshal.Read<EntryOut>(replies[2].AsSpan(16)).NodeId);

        // Errors are the engine's errno, negated; unknown opcodes ENOSYS.
        session.Dispatch(w, Build(Opcode.Mkdir, 4, 1, s => { s.Add(Bytes(new MkdirIn { Mode = 0x1ED })); s.Add(Z("d")); }));
        Assert.Equal(-(int)Errno.EEXIST, MemoryMarshal.Read<OutHeader>(replies[3]).Error);
        session.Dispatch(w, Build(Opcode.Ioctl, 5, 1, _ => { }));
        Assert.Equal(-(int)Errno.ENOSYS, MemoryMarshal.Read<OutHeader>(replies[4]).Error);

        // FORGET has no reply and drops the lookup.
        session.Dispatch(w, Build(Opcode.Forget, 6, entry.NodeId, s => s.Add(BitConverter.GetBytes(1UL))));
        Assert.Equal(5, replies.Count);
        Assert.Equal(0, fs.Nodes.LookupCount((long)entry.NodeId));

        // STATX answers what GETATTR does and the birth time, with the basic stats and btime in its mask.
        fs.Mknod("/dev", FileModes.BlockDevice | 0x1A4, rdev: (259UL << 8) | 0xD0UL | (0x11100UL << 12)); // makedev(259, 0x111D0)
        var dev = fs.Stat("/dev");
        session.Dispatch(w, Build(Opcode.Statx, 7, (ulong)dev.Ino, s => s.Add(Bytes(new StatxIn { SxMask = 0xFFF }))));
        Assert.Equal(0, MemoryMarshal.Read<OutHeader>(replies[5]).Error);
        Assert.Equal(16u + 288u, MemoryMarshal.Read<OutHeader>(replies[5]).Len);
        var sx = MemoryMarshal.Read<StatxOut>(replies[5].AsSpan(16)).Stat;
        Assert.Equal(0xFFFu, sx.Mask);
        Assert.Equal((ulong)dev.Ino, sx.Ino);
        Assert.Equal((ushort)dev.Mode, sx.Mode);
        Assert.Equal(dev.Btime.Seconds, sx.Btime.Sec);
        Assert.Equal((uint)dev.Btime.Nanoseconds, sx.Btime.Nsec);
        Assert.Equal(dev.Mtime.Seconds, sx.Mtime.Sec);
        Assert.Equal(259u, sx.RdevMajor);
        Assert.Equal(0x111D0u, sx.RdevMinor);
        fs.Unmount();
    }

    private static byte[] Z(string s) => Encoding.UTF8.GetBytes(s + "\0");

    private static byte[] Bytes<T>(T value)
        where T : unmanaged
    {
        var b = new byte[Unsafe.SizeOf<T>()];
        MemoryMarshal.Write(b, in value);
        return b;
    }

    private static byte[] Build(Opcode op, ulong unique, ulong node, Action<List<byte[]>> body)
    {
        var parts = new List<byte[]>();
        body(parts);
        var len = 40 + parts.Sum(p => p.Length);
        var header = new InHeader { Len = (uint)len, Opcode = (uint)op, Unique = unique, NodeId = node, Uid = 1000, Gid = 1000, Pid = 0 };
        return [.. Bytes(header), .. parts.SelectMany(p => p)];
    }
}
