namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// A file one worker owns, with a model of its contents: every change the engine
/// accepted (a short write counts for the bytes it reports) is applied to the model,
/// and a refused one changes nothing, so reading the file back must give the model.
/// </summary>
internal sealed class OwnedFile : IDisposable
{
    private const int MaxSize = 96 * 1024;
    private readonly byte[] model = new byte[MaxSize + 70_000];
    private long size;

    public OwnedFile(FileSystem fs, string path)
    {
        Path = path;
        Handle = fs.Open(path, OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.ReadWrite, 0x1B6 /* 0666 */);
    }

    public string Path { get; private set; }

    public FileHandle Handle { get; private set; }

    public void Dispose() => Handle.Dispose();

    /// <summary>One random change, then (sometimes) a full check by handle or by path.</summary>
    public void Step(FileSystem fs, Random rng, Churn churn, StressHarness harness, int id, byte[] data)
    {
        var offset = rng.NextInt64(MaxSize);
        switch (rng.Next(7))
        {
            case 0:
            case 1:
            case 2:
                var len = rng.Next(1, 12_000);
                var from = rng.Next(data.Length - len);
                var n = 0;
                if (churn.Try($"owned write {Path} at {offset}+{len}", [Errno.ENOSPC], () => n = Handle.Write(data.AsSpan(from, len), offset)))
                {
                    if (n <= 0 || n > len)
                    {
                        harness.Fail(id, $"write of {len} returned {n}");
                        return;
                    }

                    data.AsSpan(from, n).CopyTo(model.AsSpan((int)offset));
                    size = Math.Max(size, offset + n);
                }

                break;
            case 3:
                var newSize = rng.Next(4) == 0 ? 0 : rng.NextInt64(MaxSize);
                if (churn.Try($"owned truncate {Path} to {newSize}", [], () => Handle.Truncate(newSize)))
                {
                    if (newSize < size)
                    {
                        model.AsSpan((int)newSize, (int)(size - newSize)).Clear();
                    }

                    size = newSize;
                }

                break;
            case 4:
                var plen = rng.Next(1, 20_000);
                if (churn.Try($"owned punch {Path} {offset}+{plen}", [], () => Handle.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, offset, plen)))
                {
                    var end = Math.Min(size, offset + plen);
                    if (end > offset)
                    {
                        model.AsSpan((int)offset, (int)(end - offset)).Clear();
                    }
                }

                break;
            case 5:
                var flen = rng.Next(1, 20_000);
                var keep = rng.Next(2) == 0;
                if (churn.Try($"owned fallocate {Path} {offset}+{flen}", [Errno.ENOSPC], () => Handle.Fallocate(keep ? FallocateMode.KeepSize : FallocateMode.Default, offset, flen)) && !keep)
                {
                    size = Math.Max(size, offset + flen);
                }

                break;
            default:
                // Move it between the shared directories, where others churn.
                var to = $"/d{rng.Next(Churn.TopDirs)}/o{id}_{Path[(Path.LastIndexOf('_') + 1)..]}";
                if (to != Path && churn.Try($"owned rename {Path} {to}", [], () => fs.Rename(Path, to, RenameFlags.NoReplace)))
                {
                    Path = to;
                }

                break;
        }

        if (rng.Next(4) == 0)
        {
            Verify(fs, rng, harness, id);
        }
    }

    public void Verify(FileSystem fs, Random rng, StressHarness harness, int id)
    {
        harness.Doing(id, $"verify {Path}");
        var byPath = rng.Next(3) == 0;
        var h = byPath ? fs.Open(Path, OpenFlags.ReadOnly) : Handle;
        try
        {
            if (h.Ino != Handle.Ino)
            {
                harness.Fail(id, $"{Path} resolves to inode {h.Ino}, the owned file is {Handle.Ino}");
                return;
            }

            var st = h.Stat();
            if (st.Size != size)
            {
                harness.Fail(id, $"{Path}: size {st.Size}, expected {size}");
                return;
            }

            var actual = new byte[size];
            var got = h.Read(actual, 0);
            if (got != size)
            {
                harness.Fail(id, $"{Path}: read {got} of {size} bytes");
                return;
            }

            var expected = model.AsSpan(0, (int)size);
            if (Checksum(actual) != Checksum(expected))
            {
                var at = expected.CommonPrefixLength(actual);
                harness.Fail(id, $"{Path}: contents differ from byte {at} of {size} (checksum mismatch)");
            }
        }
        finally
        {
            if (byPath)
            {
                h.Dispose();
            }
        }
    }

    /// <summary>FNV-1a over the bytes, 64-bit.</summary>
    private static ulong Checksum(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }
}
