namespace Tmpfs.Tests.Engine;

/// <summary>
/// FileHandle.GetPages, the copy-free read the FUSE server sends READ replies from: the
/// same bytes as Read, and frames that stay referenced until PutPages.
/// </summary>
public class GetPagesTests : EngineTest
{
    [Fact]
    public void GatheredPagesMatchReadAtAnyOffsetAndLength()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var rnd = new Random(7);
        var data = new byte[40_000];
        rnd.NextBytes(data);
        h.Write(data, 0);
        h.Write(data.AsSpan(0, 5000), 60_000); // a hole of whole pages in between, EOF at 65,000
        h.Fallocate(FallocateMode.KeepSize, 70_000, 8192); // past EOF: never read
        var pfns = new int[40];
        for (var i = 0; i < 300; i++)
        {
            var offset = rnd.Next(0, 70_000);
            var count = rnd.Next(1, 38 * 4096); // at most 39 pages touched
            var expected = new byte[count];
            var n = h.Read(expected, offset);
            Assert.Equal(n, Gather(h, offset, count, pfns, out var got));
            Assert.Equal(expected.AsSpan(0, n).ToArray(), got);
        }
    }

    [Fact]
    public void FallocatedPagesReadAsZerosWithoutAFrame()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        h.Fallocate(FallocateMode.Default, 0, 3 * 4096);
        h.Write(Bytes("abc"), 4096 + 10);
        var pfns = new int[4];
        Assert.Equal(3 * 4096, h.GetPages(0, 3 * 4096, pfns, out var pages));
        Assert.Equal(3, pages);
        Assert.Equal(-1, pfns[0]);
        Assert.True(pfns[1] >= 0);
        Assert.Equal(-1, pfns[2]);
        h.PutPages(pfns.AsSpan(0, pages));
    }

    [Fact]
    public void HeldFramesOutliveATruncateAndAreFreedAtThePut()
    {
        var free = Memory.FreeBytes;
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var data = new byte[4 * 4096];
        Array.Fill(data, (byte)'q');
        h.Write(data, 0);
        var pfns = new int[5];
        Assert.Equal(data.Length, h.GetPages(0, data.Length, pfns, out var pages));
        h.Truncate(0);
        Assert.True(Memory.FreeBytes < free, "the held frames are not free yet");
        Assert.Equal((byte)'q', Frame(h, pfns[3])[100]);
        h.PutPages(pfns.AsSpan(0, pages));
        Assert.Equal(free, Memory.FreeBytes);
    }

    [Fact]
    public void NotOpenForReadingIsEBADF()
    {
        Create("/f", "abc");
        using var h = Open("/f", OpenFlags.WriteOnly);
        Assert.Equal(Errno.EBADF, Err(() => h.GetPages(0, 3, new int[2], out _)));
    }

    [Fact]
    public void AtOrPastTheEndIsEmpty()
    {
        Create("/f", "abc");
        using var h = Open("/f", OpenFlags.ReadOnly);
        Assert.Equal(0, h.GetPages(3, 10, new int[2], out var pages));
        Assert.Equal(0, pages);
    }

    private static int Gather(FileHandle h, long offset, int count, int[] pfns, out byte[] bytes)
    {
        var n = h.GetPages(offset, count, pfns, out var pages);
        try
        {
            var all = new List<byte>();
            for (var i = 0; i < pages; i++)
            {
                var (inPage, length) = Tmpfs.Shmem.PageCacheSpans.Slice(offset, n, i);
                all.AddRange(pfns[i] >= 0 ? Frame(h, pfns[i]).Slice(inPage, length).ToArray() : new byte[length]);
            }

            bytes = [.. all];
            return n;
        }
        finally
        {
            h.PutPages(pfns.AsSpan(0, pages));
        }
    }

    private static unsafe ReadOnlySpan<byte> Frame(FileHandle h, int pfn) => new(h.FrameAddress(pfn), 4096);
}
