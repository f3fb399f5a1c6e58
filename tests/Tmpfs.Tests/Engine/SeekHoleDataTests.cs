namespace Tmpfs.Tests.Engine;

public class SeekHoleDataTests : EngineTest
{
    private readonly FileHandle h;

    public SeekHoleDataTests()
    {
        h = Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
    }

    [Fact]
    public void DataAndHolesOfASparseFile()
    {
        // kernel 6.18: fallocate(0,4096); fallocate(KEEP_SIZE,8192,4096); pwrite(1 byte @12288):
        // size 12289, SEEK_DATA 0 -> 12288, SEEK_HOLE 0 -> 0, SEEK_HOLE 12288 -> 12289.
        h.Fallocate(FallocateMode.Default, 0, 4096);
        h.Fallocate(FallocateMode.KeepSize, 8192, 4096);
        h.Write(Bytes("x"), 3 * 4096);
        Assert.Equal(12289, h.Stat().Size);
        Assert.Equal(12288, h.Seek(0, Whence.Data));
        Assert.Equal(0, h.Seek(0, Whence.Hole));
        Assert.Equal(12289, h.Seek(12288, Whence.Hole));
        Assert.Equal(12289, h.Position);
        Assert.Equal(12289 + 10, h.Seek(10, Whence.End));
    }

    [Fact]
    public void FallocatedPagesAreHolesUntilWritten()
    {
        // kernel 6.18: after fallocate(0, 4096) alone, SEEK_DATA 0 = ENXIO, SEEK_HOLE 0 = 0.
        h.Fallocate(FallocateMode.Default, 0, 4096);
        Assert.Equal(Errno.ENXIO, Err(() => h.Seek(0, Whence.Data)));
        Assert.Equal(0, h.Seek(0, Whence.Hole));
    }

    [Fact]
    public void DataInTheMiddle()
    {
        h.Write(new byte[4096], 4096);
        h.Truncate(4 * 4096);
        Assert.Equal(4096, h.Seek(0, Whence.Data));
        Assert.Equal(4096 + 5, h.Seek(4096 + 5, Whence.Data));
        Assert.Equal(0, h.Seek(0, Whence.Hole));
        Assert.Equal(8192, h.Seek(4096, Whence.Hole));
        Assert.Equal(Errno.ENXIO, Err(() => h.Seek(8192, Whence.Data)));
    }

    [Fact]
    public void AFileWithoutHolesHasItsHoleAtTheEnd()
    {
        h.Write(Bytes("abc"), 0);
        Assert.Equal(0, h.Seek(0, Whence.Data));
        Assert.Equal(3, h.Seek(0, Whence.Hole));
    }

    [Theory]
    [InlineData(Whence.Data, 3)]
    [InlineData(Whence.Hole, 3)]
    [InlineData(Whence.Data, 100)]
    [InlineData(Whence.Data, -1)]
    [InlineData(Whence.Hole, -1)]
    public void AtOrPastTheEndOrNegativeIsENXIO(Whence whence, long offset)
    {
        // kernel 6.18: ENXIO for offset >= size and for a negative offset.
        h.Write(Bytes("abc"), 0);
        h.Position = 1;
        Fails(Errno.ENXIO, () => h.Seek(offset, whence));
        Assert.Equal(1, h.Position);
    }

    [Fact]
    public void EmptyFileIsENXIO() => Fails(Errno.ENXIO, () => h.Seek(0, Whence.Data));

    [Fact]
    public void PlainSeeks()
    {
        h.Write(Bytes("abcdef"), 0);
        Assert.Equal(4, h.Seek(4, Whence.Set));
        Assert.Equal(2, h.Seek(-2, Whence.Current));
        Assert.Equal(5, h.Seek(-1, Whence.End));
        Assert.Equal(Errno.EINVAL, Err(() => h.Seek(-1, Whence.Set)));
        Assert.Equal(Errno.EINVAL, Err(() => h.Seek(0, (Whence)5)));
        Assert.Equal(5, h.Position);
    }

    [Fact]
    public void OnADirectoryIsEINVAL()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        using var d = Fs.Open("/d", OpenFlags.ReadOnly);
        Fails(Errno.EINVAL, () => d.Seek(0, Whence.Data));
    }
}
