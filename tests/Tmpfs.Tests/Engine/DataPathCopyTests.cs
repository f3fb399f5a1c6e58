using Tmpfs.Memory;

namespace Tmpfs.Tests.Engine;

/// <summary>
/// The vector copies of the data path (PageCopy) and the pre-faulted frame chunks: every
/// length, alignment and tail, streaming (writes of 1 MiB and more) or not, must move exactly
/// the bytes asked for and nothing around them.
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
        foreach (var streaming in new[] { false, true })
        {
            foreach (var skew in new[] { 0, 1, 3 })
            {
                fixed (byte* p = page)
                {
                    var frame = (byte*)(((nint)p + 63) & ~(nint)63); // a frame is at least 64-byte aligned
                    new Span<byte>(frame, 4096).Fill(0xA5);
                    PageCopy.CopyIn(source.AsSpan(skew, length), frame + offset, streaming);
                    PageCopy.Fence();
                    var image = new ReadOnlySpan<byte>(frame, 4096);
                    Assert.True(image[..offset].IndexOfAnyExcept((byte)0xA5) < 0, "bytes before the copy changed");
                    Assert.True(image.Slice(offset, length).SequenceEqual(source.AsSpan(skew, length)));
                    Assert.True(image[(offset + length)..].IndexOfAnyExcept((byte)0xA5) < 0, "bytes after the copy changed");

                    var back = new byte[length + 2];
                    PageCopy.CopyOut(frame + offset, back.AsSpan(1, length));
                    Assert.Equal(0, back[0]);
                    Assert.Equal(0, back[^1]);
                    Assert.True(back.AsSpan(1, length).SequenceEqual(source.AsSpan(skew, length)));
                }
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
