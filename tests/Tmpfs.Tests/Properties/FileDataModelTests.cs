using CsCheck;

namespace Tmpfs.Tests.Properties;

/// <summary>
/// Model-based property tests of a file's data: random writes, truncates, fallocates and
/// punched holes on one file, checked after every step against a plain byte model —
/// contents, size, SEEK_DATA/SEEK_HOLE consistency and page accounting. Runs on a budget
/// of a few pages and with sizes around page boundaries, so edges are hit often.
/// </summary>
public sealed class FileDataModelTests
{
    private const int Page = 4096;
    private const int MaxSize = 6 * Page;

    private abstract record Op;

    private sealed record WriteOp(int Offset, int Length, byte Seed) : Op;

    private sealed record TruncateOp(int Size) : Op;

    private sealed record PunchOp(int Offset, int Length) : Op;

    private sealed record AllocateOp(int Offset, int Length, bool KeepSize) : Op;

    private static readonly Gen<int> Position = Gen.OneOf(
        Gen.Int[0, MaxSize],
        Gen.Int[0, 6].Select(p => p * Page),
        Gen.Int[1, 6].Select(p => (p * Page) - 1),
        Gen.Int[0, 5].Select(p => (p * Page) + 1));

    private static readonly Gen<Op> OpGen = Gen.Frequency(
        (5, Gen.Select(Position, Gen.Int[1, 2 * Page], Gen.Byte).Select(t => (Op)new WriteOp(t.Item1, Math.Min(t.Item2, MaxSize - t.Item1 + 1), t.Item3))),
        (2, Position.Select(s => (Op)new TruncateOp(s))),
        (2, Gen.Select(Position, Gen.Int[1, 2 * Page]).Select(t => (Op)new PunchOp(t.Item1, t.Item2))),
        (1, Gen.Select(Position, Gen.Int[1, 2 * Page], Gen.Bool).Select(t => (Op)new AllocateOp(t.Item1, t.Item2, t.Item3))));

    [Fact]
    public void FileMatchesByteModel()
    {
        OpGen.Array[1, 40].Sample(ops =>
        {
            using var memory = new MemoryManager(64 * Page);
            var fs = memory.Mount("size=32k");
            var model = new List<byte>();
            using (var h = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4))
            {
                foreach (var op in ops)
                {
                    Apply(h, model, op);
                    Check(h, fs, model);
                }
            }

            fs.Unmount();
            Assert.Equal(memory.TotalBytes, memory.FreeBytes);
        }, iter: 300);
    }

    private static void Apply(FileHandle h, List<byte> model, Op op)
    {
        switch (op)
        {
            case WriteOp w:
                var data = new byte[w.Length];
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (byte)(w.Seed + i + 1);
                }

                try
                {
                    var n = h.Write(data, w.Offset);
                    Grow(model, w.Offset + n);
                    for (var i = 0; i < n; i++)
                    {
                        model[w.Offset + i] = data[i];
                    }
                }
                catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
                {
                    // size=32k holds 8 pages; a refused write changes nothing.
                }

                break;
            case TruncateOp t:
                h.Truncate(t.Size);
                if (t.Size < model.Count)
                {
                    model.RemoveRange(t.Size, model.Count - t.Size);
                }
                else
                {
                    Grow(model, t.Size);
                }

                break;
            case PunchOp p:
                h.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, p.Offset, p.Length);
                for (var i = p.Offset; i < Math.Min(model.Count, p.Offset + p.Length); i++)
                {
                    model[i] = 0;
                }

                break;
            case AllocateOp a:
                try
                {
                    h.Fallocate(a.KeepSize ? FallocateMode.KeepSize : FallocateMode.Default, a.Offset, a.Length);
                    if (!a.KeepSize)
                    {
                        Grow(model, a.Offset + a.Length);
                    }
                }
                catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
                {
                    // Undone whole: the size does not change.
                }

                break;
        }
    }

    private static void Grow(List<byte> model, int size)
    {
        while (model.Count < size)
        {
            model.Add(0);
        }
    }

    private static void Check(FileHandle h, FileSystem fs, List<byte> model)
    {
        var st = h.Stat();
        Assert.Equal(model.Count, st.Size);
        var buffer = new byte[model.Count + 10];
        var n = h.Read(buffer, 0);
        Assert.Equal(model.Count, n);
        Assert.True(buffer.AsSpan(0, n).SequenceEqual(model.ToArray()), "contents differ from the model");

        // Every page charged to the mount is one of this file's; blocks agree with the mount.
        Assert.Equal(st.Blocks * 512, fs.UsedBytes);

        // Data regions found by SEEK_DATA/SEEK_HOLE cover every non-zero byte.
        if (model.Count > 0)
        {
            var covered = new bool[model.Count];
            long pos = 0;
            while (pos < model.Count)
            {
                long data;
                try
                {
                    data = h.Seek(pos, Whence.Data);
                }
                catch (TmpfsException e) when (e.Errno == Errno.ENXIO)
                {
                    break;
                }

                var hole = h.Seek(data, Whence.Hole);
                Assert.True(hole > data && hole <= model.Count, $"SEEK_HOLE {hole} after SEEK_DATA {data}");
                for (var i = data; i < hole; i++)
                {
                    covered[i] = true;
                }

                pos = hole;
            }

            for (var i = 0; i < model.Count; i++)
            {
                Assert.True(covered[i] || model[i] == 0, $"byte {i} is data but SEEK_DATA skipped it");
            }
        }
    }
}
