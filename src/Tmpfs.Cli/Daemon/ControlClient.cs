using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tmpfs.Cli.Daemon;

/// <summary>Talks to the daemon over its control socket, and starts it when none runs.</summary>
internal static class ControlClient
{
    /// <summary>Sends one request; null when no daemon listens (no socket, or nobody accepting).</summary>
    public static ControlResponse? TrySend(ControlRequest request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(ControlPaths.Socket));
        }
        catch (SocketException)
        {
            return null;
        }

        using var stream = new NetworkStream(socket, ownsSocket: false);
        var line = JsonSerializer.Serialize(request, ControlJson.Default.ControlRequest) + "\n";
        try
        {
            stream.Write(Encoding.UTF8.GetBytes(line));
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var answer = reader.ReadLine();
            return answer is null ? null : JsonSerializer.Deserialize(answer, ControlJson.Default.ControlResponse);
        }
        catch (IOException)
        {
            return null; // the daemon went away while we asked (it was shutting down)
        }
    }

    /// <summary>Sends one request to the running daemon; a <see cref="CliException"/> when there is none.</summary>
    public static ControlResponse Send(ControlRequest request) =>
        TrySend(request) ?? throw new CliException($"tmpfs: no tmpfs daemon is running (no answer on {ControlPaths.Socket}): mount a tmpfs first");

    /// <summary>
    /// Sends a request that needs a daemon, starting one when none answers: the daemon is this
    /// program re-executed as <c>tmpfs daemon</c>, which detaches itself (setsid, output to its log).
    /// </summary>
    public static ControlResponse SendStarting(ControlRequest request)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = TrySend(request);
            if (response is not null && !(response.Errno == "ESHUTDOWN" && attempt < 5))
            {
                return response;
            }

            if (response is not null)
            {
                Thread.Sleep(200); // the daemon is exiting: its lock is released soon
            }

            if (attempt >= 5)
            {
                throw new CliException($"tmpfs: the tmpfs daemon does not answer on {ControlPaths.Socket} (see {ControlPaths.Log})");
            }

            StartDaemon();
        }
    }

    private static void StartDaemon()
    {
        ControlPaths.EnsureDirectory();
        var exe = Environment.ProcessPath ?? throw new CliException("tmpfs: cannot find this program's path to start the daemon");
        // Its stdio are pipes we close at once, never ours: a daemon holding our stdout would keep
        // whoever reads it (a test, $(tmpfs mount ...)) waiting for an end of file until it exits.
        var start = new ProcessStartInfo(exe)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tmpfs.Cli.dll"));
        }

        start.ArgumentList.Add("daemon");
        using var child = Process.Start(start) ?? throw new CliException("tmpfs: cannot start the daemon");
        child.StandardInput.Close();
        child.StandardOutput.Close();
        child.StandardError.Close();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (TrySend(new ControlRequest { Op = "ping" }) is { Ok: true })
            {
                return;
            }

            if (child.HasExited && child.ExitCode != 0)
            {
                throw new CliException($"tmpfs: the tmpfs daemon exited at start with code {child.ExitCode} (see {ControlPaths.Log})");
            }

            Thread.Sleep(50);
        }

        throw new CliException($"tmpfs: the tmpfs daemon did not start within 30 s (see {ControlPaths.Log})");
    }
}
