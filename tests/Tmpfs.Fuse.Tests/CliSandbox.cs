using System.Diagnostics;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// A sandbox for the tmpfs command: a temporary directory with its own control socket
/// (TMPFS_CONTROL_SOCKET, passed to every child, mount(8) included) and mount points. The
/// command is the apphost built beside the tests (src/Tmpfs.Cli/bin/CONFIG/net10.0). mount(8)
/// finds it only on its default PATH (it drops PATH before running mount.fuse3), so for those
/// tests a wrapper goes to /usr/local/bin/tmpfs and whatever was there is put back at Dispose.
/// Dispose unmounts (lazily) everything under the directory, kills a daemon left running, and
/// removes the directory.
/// </summary>
internal sealed class CliSandbox : IDisposable
{
    private const string SystemCommand = "/usr/local/bin/tmpfs";
    private readonly string? savedCommand;
    private readonly bool installed;

    public CliSandbox(bool installForMount = false)
    {
        MountedTmpfs.SkipUnlessCanMount();
        Command = FindCommand();
        Skip.IfNot(File.Exists(Command), $"the tmpfs command was not built at {Command}");
        Dir = Directory.CreateTempSubdirectory("tmpfs-cli-").FullName;
        Socket = Path.Combine(Dir, "control.sock");
        if (installForMount)
        {
            Skip.IfNot(File.Exists("/sbin/mount.fuse3") || File.Exists("/usr/sbin/mount.fuse3"), "mount.fuse3 (package fuse3) is missing");
            if (File.Exists(SystemCommand))
            {
                savedCommand = SystemCommand + ".saved-by-tests";
                File.Move(SystemCommand, savedCommand, overwrite: true);
            }

            Directory.CreateDirectory("/usr/local/bin");
            var dotnetRoot = Path.GetDirectoryName(Path.GetFullPath(ResolveDotnet()))!;
            File.WriteAllText(SystemCommand, $"#!/bin/sh\nexport DOTNET_ROOT=\"${{DOTNET_ROOT:-{dotnetRoot}}}\"\nexec \"{Command}\" \"$@\"\n");
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(SystemCommand, (UnixFileMode)0x1ED);
            }
            installed = true;
        }
    }

    /// <summary>The tmpfs apphost.</summary>
    public string Command { get; }

    public string Dir { get; }

    public string Socket { get; }

    public string Log => File.Exists(Path.Combine(Dir, "daemon.log")) ? File.ReadAllText(Path.Combine(Dir, "daemon.log")) : "";

    /// <summary>The pid of the daemon serving the sandbox's socket (from tmpfs status --json), or 0 when none answers.</summary>
    public int DaemonPid
    {
        get
        {
            var r = Tmpfs("status", "--json");
            return r.Exit == 0 && r.Out.TrimStart().StartsWith('{')
                ? System.Text.Json.JsonDocument.Parse(r.Out).RootElement.GetProperty("pid").GetInt32()
                : 0;
        }
    }

    public string MountPoint(string name)
    {
        var path = Path.Combine(Dir, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public (int Exit, string Out, string Err) Tmpfs(params string[] args) => Run(Command, args);

    public (int Exit, string Out, string Err) Sh(string script) => Run("sh", ["-c", script]);

    public (int Exit, string Out, string Err) Run(string program, IEnumerable<string> args) =>
        RunProcess(program, args, Dir, new Dictionary<string, string?> { ["TMPFS_CONTROL_SOCKET"] = Socket });

    /// <summary>Runs a program to its end (2 minutes at most), with <paramref name="environment"/> set (null removes a variable).</summary>
    internal static (int Exit, string Out, string Err) RunProcess(string program, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
        }

        return (p.ExitCode, output, err.Result);
    }

    /// <summary>The /proc/mounts line of <paramref name="path"/>, or null.</summary>
    public static string[]? MountsLine(string path) =>
        File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).LastOrDefault(p => p.Length > 3 && p[1] == path);

    /// <summary>Waits up to 10 s for the daemon process to be gone.</summary>
    public bool WaitDaemonGone(int pid)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (pid == 0 || !Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal))
            {
                return true;
            }

            Thread.Sleep(50);
        }

        return false;
    }

    public void Dispose()
    {
        foreach (var line in File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).Reverse().ToList())
        {
            if (line.Length > 1 && line[1].StartsWith(Dir + "/", StringComparison.Ordinal))
            {
                Run("umount", ["-l", line[1]]);
            }
        }

        var pid = DaemonPid;
        if (pid > 1 && !WaitDaemonGone(pid))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
            catch (ArgumentException)
            {
            }
        }

        if (installed)
        {
            File.Delete(SystemCommand);
            if (savedCommand is not null)
            {
                File.Move(savedCommand, SystemCommand);
            }
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static string FindCommand()
    {
        // tests/Tmpfs.Fuse.Tests/bin/CONFIG/net10.0/ -> src/Tmpfs.Cli/bin/CONFIG/net10.0/Tmpfs.Cli
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var tfm = here.Name;
        var config = here.Parent!.Name;
        var repo = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(repo, "src", "Tmpfs.Cli", "bin", config, tfm, "Tmpfs.Cli");
    }

    internal static string ResolveDotnet()
    {
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }

        var host = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            return new FileInfo(host).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? host;
        }

        return new FileInfo("/usr/bin/dotnet").ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? "/usr/share/dotnet/dotnet";
    }
}
