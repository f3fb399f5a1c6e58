namespace Tmpfs.Tests.Engine;

public class ReadWriteTests : EngineTest
{
    [Fact]
    public void WriteThenReadRoundTrips()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var data = new byte[10000];
        new Random(1).NextBytes(data);
        Assert.Equal(data.Length, h.Write(data, 100));
        var back = new byte[data.Length];
        Assert.Equal(back.Length, h.Read(back, 100));
        Assert.Equal(data, back);
        Assert.Equal(10100, h.Stat().Size);
        Assert.Equal(3 * 8, h.Stat().Blocks);
    }

    [Fact]
    public void ReadPastTheEndReturnsZero()
    {
        Create("/f", "abc");
        using var h = Open("/f", OpenFlags.ReadOnly);
        Assert.Equal(0, h.Read(new byte[4], 3));
        Assert.Equal(0, h.Read(new byte[4], 1000));
        Assert.Equal(2, h.Read(new byte[4], 1));
    }

    [Fact]
    public void AGapReadsAsZerosAndTakesNoPage()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        h.Write(Bytes("x"), 5 * 4096);
        Assert.Equal(8, h.Stat().Blocks);
        var buf = new byte[5 * 4096];
        Array.Fill(buf, (byte)0xAA);
        Assert.Equal(buf.Length, h.Read(buf, 0));
        Assert.All(buf, b => Assert.Equal(0, b));
    }

    [Fact]
    public void EmptyWriteChangesNothing()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        var before = Snapshot();
        Clock.Advance();
        Assert.Equal(0, h.Write([], 100));
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void NegativeOffsetsAreEINVAL()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        Fails(Errno.EINVAL, () => h.Write(Bytes("a"), -1));
        Fails(Errno.EINVAL, () => h.Read(new byte[1], -1));
    }

    [Fact]
    public void WriteWhoseEndOverflowsIsEINVAL()
    {
        // kernel 6.18 (rw_verify_area): pwrite/pread where pos + count exceeds LLONG_MAX is EINVAL.
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        Fails(Errno.EINVAL, () => h.Write(Bytes("ab"), long.MaxValue - 1));
        Fails(Errno.EINVAL, () => h.Write(Bytes("a"), long.MaxValue));
        Fails(Errno.EINVAL, () => h.Read(new byte[10], long.MaxValue - 1));
    }

    [Fact]
    public void WriteOfTheLastByteOfTheLargestFileWorks()
    {
        // kernel 6.18: pwrite(fd, "a", 1, LLONG_MAX - 1) = 1, st_size = LLONG_MAX, one page.
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        Assert.Equal(1, h.Write(Bytes("a"), long.MaxValue - 1));
        Assert.Equal(long.MaxValue, h.Stat().Size);
        Assert.Equal(8, h.Stat().Blocks);
        var b = new byte[1];
        Assert.Equal(1, h.Read(b, long.MaxValue - 1));
        Assert.Equal((byte)'a', b[0]);
    }

    [Fact]
    public void ReadOfADirectoryHandleIsEISDIR()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        using var h = Open("/d", OpenFlags.ReadOnly);
        Fails(Errno.EISDIR, () => h.Read(new byte[1], 0));
    }

    [Fact]
    public void OverwriteInTheMiddleKeepsTheRest()
    {
        Create("/f", "0123456789");
        using (var h = Fs.Open("/f", OpenFlags.WriteOnly))
        {
            h.Write(Bytes("ab"), 4);
        }

        Assert.Equal("0123ab6789", ReadText("/f"));
    }

    [Fact]
    public void WritesAcrossAPageBoundary()
    {
        using var h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        h.Write(Bytes("ABCD"), 4094);
        var b = new byte[4];
        h.Read(b, 4094);
        Assert.Equal("ABCD", System.Text.Encoding.ASCII.GetString(b));
        Assert.Equal(16, h.Stat().Blocks);
    }
}
