using System.Text;
using CsCheck;

namespace Tmpfs.Tests.Differential;

/// <summary>A generated test case: the mount options and the operation sequence.</summary>
internal sealed record Scenario(string Options, Op[] Ops)
{
    public override string ToString()
    {
        var sb = new StringBuilder($"mount -t tmpfs -o {Options}\n");
        for (var i = 0; i < Ops.Length; i++)
        {
            sb.Append("  #").Append(i).Append(' ').Append(Ops[i]).Append('\n');
        }

        return sb.ToString();
    }
}

/// <summary>
/// Generators over a deliberately tiny name space (a, b, c, d; up to three levels; ".", "..",
/// trailing slashes) so that operations collide: the same names become files, directories,
/// symlinks and devices in turn.
/// </summary>
internal static class OpGen
{
    private static readonly string LongName = new('n', 256);
    private static readonly string MaxName = new('m', 255);

    public static Gen<Scenario> Scenario(bool full, int minOps, int maxOps) =>
        Gen.Select(MountOptions(full), Gen.Bool, Op(full).Array[minOps, maxOps], (o, setup, ops) =>
            new Scenario(o, setup ? [.. Preamble(full), .. ops] : ops));

    /// <summary>Mount options: small limits so ENOSPC happens; root directory owners and modes vary.</summary>
    private static Gen<string> MountOptions(bool full) => full
        ? Gen.Frequency(
            (6, "size=256k,nr_inodes=48,mode=1777"),
            (4, "size=1m,nr_inodes=200,mode=1777"),
            (2, "size=16m,nr_inodes=4k,mode=1777"),
            (2, "size=1m,nr_inodes=200,mode=0775,uid=1000,gid=100"),
            (1, "size=1m,nr_inodes=200,mode=0777"))
        : Gen.Const("size=16m,nr_inodes=4k,mode=1777");

    /// <summary>
    /// A starting tree for half of the scenarios, so deeper paths exist early: directories of
    /// different owners and modes, a file with data, a hard link, symlinks (relative, absolute,
    /// dangling). Shrinking removes what a failure does not need.
    /// </summary>
    private static Op[] Preamble(bool full)
    {
        var u1000 = full ? Caller.All[1] : Caller.Root;
        var u1001 = full ? Caller.All[2] : Caller.Root;
        return
        [
            new MkdirOp(Caller.Root, "/a", 0x1ED),
            new MkdirOp(u1000, "/a/b", 0x1FF),
            new MkdirOp(u1001, "/d", 0x3FF),
            new OpenOp(u1000, 0, "/a/b/c", Native.O_CREAT | Native.O_RDWR, 0x1A4),
            new WriteOp(0, 100, 5000, 3),
            new OpenOp(u1001, 1, "/d/a", Native.O_CREAT | Native.O_RDWR, 0x1B4),
            new LinkOp(u1001, "/d/a", "/d/b"),
            new SymlinkOp(Caller.Root, "a/b", "/c"),
            new SymlinkOp(u1000, full ? "/d" : "d", "/a/d"),
            new SymlinkOp(u1001, full ? "../zz" : "zz", "/d/c"), // no ".." without root: the prefixed directory is no mount root
        ];
    }

    private static Gen<string> Component(bool dotdot) => dotdot
        ? Gen.Frequency((35, "a"), (25, "b"), (15, "c"), (15, "d"), (4, "."), (6, ".."))
        : Gen.Frequency((35, "a"), (25, "b"), (15, "c"), (15, "d"), (4, "."));

    private static Gen<string> RelativePath(bool dotdot) =>
        from depth in Gen.Frequency((60, 1), (30, 2), (10, 3))
        from parts in Component(dotdot).Array[depth]
        from trailing in Gen.Int[0, 99]
        select string.Join('/', parts) + (trailing < 7 ? "/" : string.Empty);

    // Without root the kernel side is a prefixed directory, not a mount root: "/" itself
    // (LAST_ROOT in the engine, a normal name there), ".." and absolute symlink targets
    // cannot mean the same on both sides, so they are only generated with root.
    private static Gen<string> Path(bool dotdot) => Gen.Frequency(
        (95, RelativePath(dotdot).Select(p => "/" + p)),
        (2, Gen.Const(dotdot ? "/" : "/.")),
        (1, Gen.Const("/" + LongName)),
        (2, Gen.Const("/" + MaxName)));

    private static Gen<string> SymlinkTarget(bool dotdot) => Gen.Frequency(
        (65, RelativePath(dotdot)),
        (dotdot ? 25 : 0, Path(dotdot)),
        (5, Gen.Const(string.Concat(Enumerable.Repeat("./", 70)) + "a")), // longer than an inline symlink
        (3, Gen.Const("zz")),
        (2, Gen.Const(string.Empty)));

    private static Gen<Caller> Who(bool full) => full
        ? Gen.Frequency((50, Caller.All[0]), (17, Caller.All[1]), (17, Caller.All[2]), (16, Caller.All[3]))
        : Gen.Const(Caller.Root);

    private static readonly Gen<int> Slot = Gen.Int[0, Runner.Slots - 1];

    private static readonly Gen<int> FileMode = Gen.Frequency(
        (30, Gen.Const(0x1A4)), // 0644
        (10, Gen.Const(0x180)), // 0600
        (10, Gen.Const(0x1ED)), // 0755
        (10, Gen.Const(0x1FF)), // 0777
        (4, Gen.Const(0)),
        (5, Gen.Const(0x124)), // 0444
        (5, Gen.Const(0x5ED)), // 02755
        (5, Gen.Const(0x9ED)), // 04755
        (4, Gen.Const(0x3FF)), // 01777
        (4, Gen.Const(0xDFF)), // 06777
        (4, Gen.Const(0x5A4)), // 02644: setgid without group execute
        (9, Gen.Int[0, 0xFFF]));

    private static readonly Gen<int> DirMode = Gen.Frequency(
        (30, Gen.Const(0x1ED)), // 0755
        (15, Gen.Const(0x1FF)), // 0777
        (10, Gen.Const(0x1C0)), // 0700
        (10, Gen.Const(0x3FF)), // 01777
        (10, Gen.Const(0x5FD)), // 02775
        (5, Gen.Const(0x16D)), // 0555
        (5, Gen.Const(0x149)), // 0511
        (5, Gen.Const(0)),
        (10, Gen.Int[0, 0xFFF]));

    private static readonly Gen<int> OpenFlags =
        from access in Gen.Frequency((30, Native.O_RDONLY), (25, Native.O_WRONLY), (45, Native.O_RDWR), (1, 3))
        from creat in Gen.Int[0, 99]
        from excl in Gen.Int[0, 99]
        from trunc in Gen.Int[0, 99]
        from append in Gen.Int[0, 99]
        from special in Gen.Int[0, 99]
        select access
            | (special < 6 ? Native.O_TMPFILE | (excl < 30 ? Native.O_EXCL : 0)
                : (creat < 60 ? Native.O_CREAT : 0) | (excl < 20 ? Native.O_EXCL : 0)
                    | (special < 11 ? Native.O_DIRECTORY : 0) | (special is >= 11 and < 16 ? Native.O_NOFOLLOW : 0))
            | (trunc < 15 ? Native.O_TRUNC : 0) | (append < 15 ? Native.O_APPEND : 0);

    private static readonly Gen<long> Offset = Gen.Frequency(
        (30, Gen.Const(0L)),
        (6, Gen.Const(1L)),
        (8, Gen.Const(4095L)),
        (8, Gen.Const(4096L)),
        (6, Gen.Const(5000L)),
        (6, Gen.Const(8191L)),
        (6, Gen.Const(12288L)),
        (4, Gen.Const((1L << 20) + 17)),
        (3, Gen.Const(1L << 30)),
        (15, Gen.Long[0, 20000]));

    private static readonly Gen<int> IoLength = Gen.Frequency(
        (20, Gen.Const(1)),
        (15, Gen.Const(100)),
        (8, Gen.Const(4095)),
        (8, Gen.Const(4096)),
        (8, Gen.Const(4097)),
        (6, Gen.Const(8195)),
        (4, Gen.Const(20000)),
        (2, Gen.Const(0)),
        (15, Gen.Int[1, 9000]));

    private static readonly Gen<long> TruncateLength = Gen.Frequency(
        (20, Gen.Const(0L)),
        (10, Gen.Const(1L)),
        (10, Gen.Const(100L)),
        (10, Gen.Const(4096L)),
        (10, Gen.Const(5000L)),
        (8, Gen.Const(8192L)),
        (6, Gen.Const(20000L)),
        (4, Gen.Const(1L << 20)),
        (3, Gen.Const(1L << 30)),
        (2, Gen.Const(-1L)),
        (10, Gen.Long[0, 13000]));

    private static readonly Gen<long> FallocLength = Gen.Frequency(
        (20, Gen.Const(1L)),
        (15, Gen.Const(100L)),
        (15, Gen.Const(4096L)),
        (10, Gen.Const(5000L)),
        (10, Gen.Const(12288L)),
        (5, Gen.Const(1L << 20)),
        (3, Gen.Const(0L)),
        (15, Gen.Long[1, 20000]));

    private static readonly Gen<long> SeekOffset = Gen.Frequency(
        (20, Gen.Const(0L)),
        (8, Gen.Const(1L)),
        (8, Gen.Const(4095L)),
        (8, Gen.Const(4096L)),
        (8, Gen.Const(4097L)),
        (8, Gen.Const(8192L)),
        (5, Gen.Const(12000L)),
        (4, Gen.Const(1L << 20)),
        (4, Gen.Const((1L << 30) + 4096)),
        (2, Gen.Const(-1L)),
        (10, Gen.Long[0, 20000]));

    private static readonly Gen<Ts> Time = Gen.Frequency(
        (30, Gen.Const(Ts.Now)),
        (20, Gen.Const(Ts.Omit)),
        (2, Gen.Const(new Ts(0, 1_000_000_000))),
        (48, Gen.Select(
            Gen.OneOf(631152000L, 700000000L, 946684799L, 12345L),
            Gen.OneOf(0L, 1L, 123456789L, 999999999L),
            (s, ns) => new Ts(s, ns))));

    private static readonly Gen<string> XattrName = Gen.Frequency(
        (40, "user.a"), (25, "user.b"), (20, "trusted.t"), (3, "user."), (4, "bogus.x"), (3, "security.s"),
        (2, "user." + new string('x', 251)), (2, "user." + new string('y', 255)));

    private static readonly Gen<int> XattrLength = Gen.Frequency(
        (15, Gen.Const(0)), (30, Gen.Const(1)), (20, Gen.Const(5)), (10, Gen.Const(24)), (10, Gen.Const(100)),
        (8, Gen.Const(3000)), (2, Gen.Const(65536)), (2, Gen.Const(65537)));

    private static readonly Gen<(int Mode, ulong Rdev)> Node = Gen.Frequency(
        (35, (0x1000 | 0x1A4, 0UL)), // fifo 0644
        (15, (0xC000 | 0x1ED, 0UL)), // socket 0755
        (15, (0x2000 | 0x1B6, 0x103UL)), // char 1:3 0666
        (10, (0x6000 | 0x1B0, 0x700UL)), // block 7:0 0660
        (10, (0x8000 | 0x1A4, 0UL)), // regular
        (5, (0x1A4, 0UL)), // type 0: regular
        (5, (0x4000 | 0x1ED, 0UL)), // directory: EPERM
        (5, (0x1000 | 0xDFF, 0UL))); // fifo with all mode bits

    private static Gen<Op> Op(bool full)
    {
        var path = Path(dotdot: full);
        var who = Who(full);
        var ops = new List<(int, IGen<Op>)>
        {
            (14, Gen.Select(who, Slot, path, OpenFlags, FileMode, (w, s, p, f, m) => (Op)new OpenOp(w, s, p, f, m))),
            (1, Slot.Select(s => (Op)new CloseOp(s))),
            (10, Gen.Select(Slot, Offset, IoLength, Gen.Int[0, 9], (s, o, l, t) => (Op)new WriteOp(s, o, l, t))),
            (6, Gen.Select(Slot, Offset, IoLength, (s, o, l) => (Op)new ReadOp(s, o, l))),
            (3, Gen.Select(Slot, TruncateLength, (s, l) => (Op)new FTruncateOp(s, l))),
            (4, Gen.Select(Slot, Gen.Frequency((35, 0), (30, 1), (30, 3), (5, 2)), Offset, FallocLength,
                (s, m, o, l) => (Op)new FallocateOp(s, m, o, l))),
            (4, Gen.Select(Slot, SeekOffset, Gen.OneOf(3, 4), (s, o, w) => (Op)new SeekOp(s, o, w))),
            (3, Slot.Select(s => (Op)new FStatOp(s))),
            (2, Gen.Select(Slot, path, (s, p) => (Op)new LinkHandleOp(s, p))),
            (2, Gen.Select(Slot, FileMode, (s, m) => (Op)new FChmodOp(s, m))),
            (1, Gen.Select(Slot, Gen.OneOf(0u, 1000u, 1001u, uint.MaxValue), Gen.OneOf(0u, 100u, 1000u, uint.MaxValue), (s, u, g) => (Op)new FChownOp(s, u, g))),
            (1, Gen.Select(Slot, Time, Time, (s, a, m) => (Op)new FUtimensOp(s, a, m))),
            (7, Gen.Select(who, path, DirMode, (w, p, m) => (Op)new MkdirOp(w, p, m))),
            (3, Gen.Select(who, path, (w, p) => (Op)new RmdirOp(w, p))),
            (4, Gen.Select(who, path, (w, p) => (Op)new UnlinkOp(w, p))),
            (5, Gen.Select(who, path, path, Gen.Frequency((60, 0), (20, 1), (20, 2)), (w, a, b, f) => (Op)new RenameOp(w, a, b, f))),
            (3, Gen.Select(who, path, path, (w, a, b) => (Op)new LinkOp(w, a, b))),
            (4, Gen.Select(who, SymlinkTarget(full), path, (w, t, p) => (Op)new SymlinkOp(w, t, p))),
            (2, Gen.Select(who, path, (w, p) => (Op)new ReadLinkOp(w, p))),
            (2, Gen.Select(who, path, Node, (w, p, n) => (Op)new MknodOp(w, p, n.Mode, n.Rdev))),
            (4, Gen.Select(who, path, FileMode, (w, p, m) => (Op)new ChmodOp(w, p, m))),
            (3, Gen.Select(who, path, Gen.OneOf(0u, 1000u, 1001u, 1002u, uint.MaxValue), Gen.OneOf(0u, 100u, 1000u, 1001u, uint.MaxValue),
                Gen.Int[0, 9], (w, p, u, g, f) => (Op)new ChownOp(w, p, u, g, f < 8))),
            (3, Gen.Select(who, path, Time, Time, Gen.Int[0, 9], (w, p, a, m, f) => (Op)new UtimensOp(w, p, a, m, f < 8))),
            (2, Gen.Select(who, path, TruncateLength, (w, p, l) => (Op)new TruncateOp(w, p, l))),
            (8, Gen.Select(who, path, Gen.Int[0, 9], (w, p, f) => (Op)new StatOp(w, p, f < 6))),
            (3, Gen.Select(who, path, Gen.Int[0, 7], (w, p, m) => (Op)new AccessOp(w, p, m))),
            (4, Gen.Select(who, path, (w, p) => (Op)new ReadDirOp(w, p))),
            (4, Gen.Select(who, path, XattrName, XattrLength, Gen.Int[0, 25], Gen.Frequency((60, 0), (20, 1), (20, 2)), Gen.Int[0, 9],
                (w, p, n, l, t, f, nf) => (Op)new SetXattrOp(w, p, n, l, t, f, nf < 8))),
            (3, Gen.Select(who, path, XattrName, Gen.Frequency((20, 0), (20, 1), (60, 65536)), Gen.Int[0, 9],
                (w, p, n, s, nf) => (Op)new GetXattrOp(w, p, n, s, nf < 8))),
            (2, Gen.Select(who, path, Gen.Int[0, 9], (w, p, nf) => (Op)new ListXattrOp(w, p, nf < 8))),
            (2, Gen.Select(who, path, XattrName, Gen.Int[0, 9], (w, p, n, nf) => (Op)new RemoveXattrOp(w, p, n, nf < 8))),
            (1, Gen.Const((Op)new StatFsOp())),
            (1, Gen.Const((Op)new SnapshotOp())),
        };
        return Gen.Frequency(ops.ToArray());
    }
}
