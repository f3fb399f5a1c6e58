using Tmpfs.Cli.Stress;

namespace Tmpfs.Cli.Commands;

/// <summary>
/// Live progress: on a terminal one line rewritten in place; otherwise (a pipe, a log, CI)
/// a plain line each time.
/// </summary>
internal sealed class ProgressLine(TextWriter output, bool interactive)
{
    private readonly Lock gate = new();
    private bool pending;

    public void Show(StressSnapshot snapshot)
    {
        var line = snapshot.ToLine();
        lock (gate)
        {
            if (interactive)
            {
                var width = Console.IsOutputRedirected ? line.Length : Math.Max(20, Console.WindowWidth - 1);
                output.Write("\r\u001b[K" + (line.Length > width ? line[..width] : line));
                pending = true;
            }
            else
            {
                output.WriteLine(line);
            }

            output.Flush();
        }
    }

    /// <summary>Ends a line left open by the in-place display.</summary>
    public void End()
    {
        lock (gate)
        {
            if (pending)
            {
                output.WriteLine();
                pending = false;
            }
        }
    }
}
