namespace Tmpfs.Benchmarks.Stores;

/// <summary>pwrite / pread over a seekable Stream (Zio, MockFileSystem).</summary>
internal sealed class StreamFile(Stream stream) : IStoreFile
{
    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        if (stream.Position != offset)
        {
            stream.Position = offset;
        }

        stream.Write(data);
    }

    public int Read(Span<byte> buffer, long offset)
    {
        if (stream.Position != offset)
        {
            stream.Position = offset;
        }

        var total = 0;
        while (total < buffer.Length)
        {
            var n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public void Dispose() => stream.Dispose();
}
