using System.IO.Pipes;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// The serving thread's read on a non-blocking fd (RequestBuffer.ReadFrom with a poll before
/// sleeping): a message already queued, one that comes during the poll, one that comes
/// after it (the thread sleeps in poll(2) and is woken), and the end of the stream. A pipe
/// stands in for /dev/fuse: both answer EAGAIN when empty and wake poll(2) when written.
/// </summary>
public sealed class PollReadTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    [InlineData(200_000)]
    public void ReadsWhatComesBeforeDuringAndAfterThePoll(int pollMicroseconds)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        var fd = (int)client.SafePipeHandle.DangerousGetHandle();
        var flags = NativeMount.Fcntl(fd, NativeMount.F_GETFL, 0);
        Assert.Equal(0, NativeMount.Fcntl(fd, NativeMount.F_SETFL, flags | NativeMount.O_NONBLOCK));
        using var buffer = new RequestBuffer(FuseProtocol.MinReadBuffer);
        var spin = (long)(pollMicroseconds * 1e-6 * System.Diagnostics.Stopwatch.Frequency);

        server.Write("queued"u8);
        server.Flush();
        Assert.Equal("queued"u8.ToArray(), buffer.Message(buffer.ReadFrom(fd, spin)).ToArray());

        foreach (var delayMs in new[] { 0, 1, 30 })
        {
            var writer = Task.Run(() =>
            {
                Thread.Sleep(delayMs);
                server.Write("late"u8);
                server.Flush();
            });
            Assert.Equal("late"u8.ToArray(), buffer.Message(buffer.ReadFrom(fd, spin)).ToArray());
            writer.Wait();
        }

        server.SafePipeHandle.Dispose(); // the write end only; the read end stays open
        Assert.Equal(0, buffer.ReadFrom(fd, spin)); // the writer is gone: end of stream, not a hang
    }
}
