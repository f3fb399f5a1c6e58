using Tmpfs.Memory;

namespace Tmpfs.Tests.Engine;

/// <summary>
/// The copies of the data path (PageCopy) and the pre-faulted frame chunks: every length,
/// alignment and tail, in each FrameStore and each way out, must move exactly the bytes
/// asked for and nothing around them.
/// </summary>
public class DataPathCopyTests : EngineTest
{
    public DataPathCopyTests()
        : base("size=16M,nr_inodes=64", 32L << 20)
    {
    }

    [Theory]
    [InlineData(0, 4096)]
    [InlineData(0, 256)]
    [InlineData(1, 255)]
    [InlineData(17, 1000)]
    [InlineData(64, 3968)]
    [InlineData(100, 3996)]
    [InlineData(3840, 256)]
    [InlineData(4095, 1)]
    public unsafe void CopiesInAndOutAreExactAtAnyOffsetAndLength(int offset, int length)
    {
        var page = new byte[4096 + 64];
        var source = new byte[length + 3];
        new Random(offset * 7919 + length).NextBytes(source);
        foreach (var store in Enum.GetValues<FrameStore>())
        {
            foreach (var skew in new[] { 0, 1, 3 })
            {
                fixed (byte* p = page)
                {
                    var frame = (byte*)(((nint)p + 63) & ~(nint)63); // a frame is at least 64-byte aligned
                    new Span<byte>(frame, 4096).Fill(0xA5);
                    PageCopy.CopyIn(source.AsSpan(skew, length), frame + offset, store);
                    PageCopy.Fence();
                    var image = new ReadOnlySpan<byte>(frame, 4096);
                    Assert.True(image[..offset].IndexOfAnyExcept((byte)0xA5) < 0, "bytes before the copy changed");
                    Assert.True(image.Slice(offset, length).SequenceEqual(source.AsSpan(skew, length)));
                    Assert.True(image[(offset + length)..].IndexOfAnyExcept((byte)0xA5) < 0, "bytes after the copy changed");

                    foreach (var sequential in new[] { false, true })
                    {
                        var back = new byte[length + 2];
                        PageCopy.CopyOut(frame + offset, back.AsSpan(1, length), sequential);
                        Assert.Equal(0, back[0]);
                        Assert.Equal(0, back[^1]);
                        Assert.True(back.AsSpan(1, length).SequenceEqual(source.AsSpan(skew, length)));
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(3 * 4096 + 5)]
    public void ReadsFromTheStartContinuingOrElsewhereReturnTheSameBytes(int size)
    {
        // Each ReadPattern copies its own way (prefetched first page, memmove, vector loop);
        // the bytes must not depend on it, nor on the first page being a hole.
        var data = new byte[size];
        new Random(size).NextBytes(data);
        foreach (var firstPageHole in new[] { false, true })
        {
            var expected = (byte[])data.Clone();
            using (var w = Open("/r", OpenFlags.Create | OpenFlags.Truncate | OpenFlags.ReadWrite))
            {
                w.Write(data, 0);
                if (firstPageHole && size > 4096)
                {
                    w.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, 0, 4096);
                    expected.AsSpan(0, 4096).Clear();
                }
            }

            foreach (var chunk in new[] { 1, 77, 4096, 10000 })
            {
                using var h = Open("/r", OpenFlags.ReadOnly);
                var back = new byte[size];
                var at = 0;
                while (at < size)
                {
                    var n = h.Read(back.AsSpan(at, Math.Min(chunk, size - at)), at); // Start, then Continuing
                    Assert.True(n > 0, "a read inside the file returned nothing");
                    at += n;
                }

                Assert.True(back.AsSpan().SequenceEqual(expected), $"sequential reads in chunks of {chunk} differ");
                var tail = new byte[size];
                var last = size - Math.Min(chunk, size);
                Assert.Equal(size - last, h.Read(tail.AsSpan(0, size - last), last)); // Random
                Assert.True(tail.AsSpan(0, size - last).SequenceEqual(expected.AsSpan(last)), $"a read at {last} differs");
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    public void StreamingWritesRoundTripOverFreshAndReusedFrames(int offset)
    {
        // 1 MiB and more is a streaming write; the first pass carves (and pre-faults) fresh
        // frames, the second overwrites them, the third reuses frames freed by a truncate.
        var data = new byte[(3 << 20) + 123];
        new Random(offset).NextBytes(data);
        using var h = Open("/big", OpenFlags.Create | OpenFlags.ReadWrite);
        for (var pass = 0; pass < 3; pass++)
        {
            if (pass == 2)
            {
                h.Truncate(0);
            }

            data[pass] ^= 0xFF;
            Assert.Equal(data.Length, h.Write(data, offset));
            var back = new byte[data.Length + 10];
            Assert.Equal(data.Length, h.Read(back, offset));
            Assert.True(back.AsSpan(0, data.Length).SequenceEqual(data));
            if (offset > 0)
            {
                var head = new byte[offset];
                Assert.Equal(offset, h.Read(head, 0));
                Assert.True(head.AsSpan().IndexOfAnyExcept((byte)0) < 0, "the hole before the data is not zero");
            }
        }
    }
}

/// <summary>
/// Page-sized writes below the streaming size, each page stored its own way (FrameStore):
/// whole pages of a hole being filled (fresh frames by memmove, some reused with another
/// file's bytes in them, freed a moment or long ago), and whole pages overwritten in a file
/// larger than the last-level cache (non-temporal; partial pages around them take the
/// vector loop); every byte must read back, zeros in the holes included.
/// </summary>
public class WholePageStoreTests : EngineTest
{
    public WholePageStoreTests()
        : base("size=48M,nr_inodes=4096", 64L << 20)
    {
    }

    [Fact]
    public void WholePageWritesIntoFreshAndReusedFramesReadBack()
    {
        var rng = new Random(5);
        using (var old = Open("/old", OpenFlags.Create | OpenFlags.ReadWrite))
        {
            var junk = new byte[1 << 16];
            rng.NextBytes(junk);
            old.Write(junk, 0); // frames that go back to the free list dirty
        }

        Fs.Unlink("/old");
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var image = new byte[1 << 16];
        foreach (var (offset, length) in new[] { (0, 4096), (8192, 4096), (4096 * 5, 8192), (4096 * 9 + 100, 4096), (4096 * 12, 4000) })
        {
            var data = new byte[length];
            rng.NextBytes(data);
            Assert.Equal(length, h.Write(data, offset));
            data.CopyTo(image, offset);
        }

        var back = new byte[image.Length];
        var size = h.Read(back, 0);
        Assert.True(back.AsSpan(0, size).SequenceEqual(image.AsSpan(0, size)), "a written page or a hole around it reads back wrong");
    }

    [Fact]
    public void SmallWritesIntoFramesFreedLongAgoReadBack()
    {
        // A file's frames freed, then 3 MiB of other frees on top: the next writes take the
        // frames freed a moment ago first, then ones freed long ago, dirty with old bytes.
        var rng = new Random(7);
        var junk = new byte[3 << 20];
        rng.NextBytes(junk);
        foreach (var name in new[] { "/old", "/churn" })
        {
            using (var f = Open(name, OpenFlags.Create | OpenFlags.ReadWrite))
            {
                f.Write(junk, 0);
            }

            Fs.Unlink(name);
        }

        var image = new byte[6 << 20];
        var files = new List<(FileHandle Handle, int Offset, int Length)>();
        try
        {
            for (int at = 0, i = 0; at + 9000 < image.Length; i++)
            {
                var (offset, length) = (i % 4) switch
                {
                    0 => (0, 4096),
                    1 => (100, 4096),
                    2 => (0, 8192 + 17),
                    _ => (4096, 3000),
                };
                var data = image.AsSpan(at, length);
                rng.NextBytes(data);
                var h = Open($"/s{i}", OpenFlags.Create | OpenFlags.ReadWrite);
                files.Add((h, offset, length));
                Assert.Equal(length, h.Write(data, offset));
                at += length;
            }

            var from = 0;
            foreach (var (h, offset, length) in files)
            {
                var back = new byte[offset + length];
                Assert.Equal(offset + length, h.Read(back, 0));
                Assert.True(back.AsSpan(0, offset).IndexOfAnyExcept((byte)0) < 0, "the hole before the data is not zero");
                Assert.True(back.AsSpan(offset).SequenceEqual(image.AsSpan(from, length)), "a small file reads back wrong");
                from += length;
            }
        }
        finally
        {
            foreach (var (h, _, _) in files)
            {
                h.Dispose();
            }
        }
    }

    [Fact]
    public void WholePageOverwritesOfAFileLargerThanTheCacheReadBack()
    {
        const int size = 40 << 20; // over the 32 MiB above which whole-page overwrites skip the cache
        var rng = new Random(6);
        using var h = Open("/big", OpenFlags.Create | OpenFlags.ReadWrite);
        var chunk = new byte[1 << 20];
        for (var at = 0; at < size; at += chunk.Length)
        {
            chunk.AsSpan().Fill((byte)(at >> 20));
            h.Write(chunk, at);
        }

        var page = new byte[4096];
        var offsets = new[] { 0L, 4096L * 777, (size - 4096) / 2, size - 4096 };
        foreach (var offset in offsets)
        {
            rng.NextBytes(page);
            Assert.Equal(4096, h.Write(page, offset));
            var back = new byte[4096];
            Assert.Equal(back.Length, h.Read(back, offset));
            Assert.True(back.AsSpan().SequenceEqual(page), "an overwritten page reads back wrong");
            if (offset > 0)
            {
                var before = new byte[1];
                h.Read(before, offset - 1);
                Assert.Equal((byte)((offset - 1) >> 20), before[0]);
            }
        }

        var partial = new byte[100];
        rng.NextBytes(partial);
        h.Write(partial, 4096 * 3 + 10); // a partial page of a large file keeps ordinary stores
        var check = new byte[120];
        h.Read(check, 4096 * 3);
        Assert.True(check.AsSpan(10, 100).SequenceEqual(partial));
        Assert.True(check.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0, "bytes before the partial write changed");
    }
}
