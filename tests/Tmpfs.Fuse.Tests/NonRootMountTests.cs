using System.Diagnostics;
using System.Runtime.Versioning;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// An ordinary user mounts through fusermount3 (set-uid root), as libfuse programs do: the
/// tmpfs command runs as nobody, mounts two tmpfs on one daemon, the user writes and reads
/// them, the root of each belongs to the user (shmem_fill_super's current_fsuid), and
/// `fusermount3 -u` and `tmpfs umount` each end a mount cleanly, the daemon exiting after the
/// last. This machine's /dev/fuse is 0600 (Debian's default is 0666): the test opens it to
/// everyone for its duration and puts the mode back, also when it fails.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NonRootMountTests : IDisposable
{
    private const string Nobody = "65534";
    private readonly string dir;
    private readonly string app;
    private readonly string run;
    private readonly string dotnet;
    private readonly UnixFileMode? savedFuseMode;

    public NonRootMountTests()
    {
        MountedTmpfs.SkipUnlessCanMount();
        Skip.IfNot(File.Exists("/usr/bin/fusermount3") || File.Exists("/bin/fusermount3"), "fusermount3 (package fuse3) is missing");
        Skip.IfNot(File.Exists("/usr/bin/setpriv"), "setpriv (package util-linux) is missing");
        var cli = Path.GetDirectoryName(CliSandbox.FindCommand())!;
        Skip.IfNot(File.Exists(Path.Combine(cli, "Tmpfs.Cli.dll")), $"the tmpfs command was not built in {cli}");
        dotnet = CliSandbox.ResolveDotnet();

        // Every skip comes before anything is changed: xunit does not dispose a test class
        // whose constructor threw.
        var usable = Exec("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", "--", "test", "-r", dotnet, "-a", "-x", dotnet], asUser: false);
        Skip.If(usable.Exit != 0, $"{dotnet} is not usable by an ordinary user");

        dir = Directory.CreateTempSubdirectory("tmpfs-user-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED); // 0755: the user reads the app, owns only run/ and the mount points
        app = Path.Combine(dir, "app");
        CopyTree(cli, app);
        run = Path.Combine(dir, "run");
        Directory.CreateDirectory(run);
        Chown(run);

        savedFuseMode = File.GetUnixFileMode("/dev/fuse");
        File.SetUnixFileMode("/dev/fuse", (UnixFileMode)0x1B6); // 0666
    }

    [SkippableFact]
    public void UserMountsThroughFusermountAndUnmountsBothWays()
    {
        var a = MountPoint("a");
        var b = MountPoint("b");
        Ok(Tmpfs("mount", "-o", "size=64m", a), "tmpfs mount a (as nobody)");
        Ok(Tmpfs("mount", "-o", "size=32m,mode=0700", b), "tmpfs mount b (as nobody)");

        var line = CliSandbox.MountsLine(a);
        Assert.NotNull(line);
        Assert.Equal("fuse.tmpfs", line[2]);
        Assert.Contains("user_id=" + Nobody, line[3], StringComparison.Ordinal);
        Assert.Contains("nosuid", line[3], StringComparison.Ordinal); // fusermount3 forces nosuid,nodev for users
        Assert.NotNull(CliSandbox.MountsLine(b));

        var sh = AsUser("sh", ["-c", $"""
            set -e
            stat -c '%u:%g %a' {a} {b}
            printf 'hello from nobody' > {a}/f
            cat {a}/f; echo
            stat -c '%u:%g %a %s' {a}/f
            mkdir {b}/d && dd if=/dev/zero of={b}/d/z bs=1M count=3 status=none
            df -k --output=size {a} {b} | tail -n 2
            """]);
        Ok(sh, "work on the mounts as nobody");
        var lines = sh.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"{Nobody}:{Nobody} 1777", lines[0]);
        Assert.Equal($"{Nobody}:{Nobody} 700", lines[1]);
        Assert.Equal("hello from nobody", lines[2]);
        Assert.Equal($"{Nobody}:{Nobody} 644 17", lines[3]);
        Assert.Equal(["65536", "32768"], lines[4..6]);

        // Root is refused by the user's mount without allow_other, as for any FUSE mount.
        Assert.False(File.Exists(Path.Combine(a, "f")) && CanRead(Path.Combine(a, "f")), "root could read a user's FUSE mount without allow_other");

        var pid = DaemonPid();
        Assert.True(pid > 0, "no daemon answered tmpfs status as nobody");
        Assert.Equal(Nobody, ProcessUid(pid));

        Ok(AsUser("fusermount3", ["-u", a]), "fusermount3 -u a");
        Assert.True(WaitUnmounted(a), "a is still mounted after fusermount3 -u");
        Ok(Tmpfs("umount", b), "tmpfs umount b (as nobody)");
        Assert.Null(CliSandbox.MountsLine(b));
        Assert.True(WaitGone(pid), "the daemon did not exit after its last mount");

        var log = File.ReadAllText(Path.Combine(run, "tmpfs-dotnet", "daemon.log"));
        Assert.Contains("unmounted " + a, log, StringComparison.Ordinal);
        Assert.Contains("unmounted " + b, log, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void WithoutAccessToDevFuseTheUserGetsOneLineAndNoMount()
    {
        File.SetUnixFileMode("/dev/fuse", (UnixFileMode)0x180); // 0600, as this machine has it
        var a = MountPoint("a");
        var r = Tmpfs("mount", "-o", "size=64m", a);
        Assert.NotEqual(0, r.Exit);
        var error = r.Err.Trim();
        Assert.DoesNotContain('\n', error);
        Assert.Contains("/dev/fuse", error, StringComparison.Ordinal);
        Assert.Null(CliSandbox.MountsLine(a));
    }

    public void Dispose()
    {
        if (savedFuseMode is { } mode)
        {
            File.SetUnixFileMode("/dev/fuse", mode);
        }

        if (dir is null)
        {
            return;
        }

        foreach (var line in File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).Reverse().ToList())
        {
            if (line.Length > 1 && line[1].StartsWith(dir + "/", StringComparison.Ordinal))
            {
                Exec("umount", ["-l", line[1]], asUser: false);
            }
        }

        var pid = DaemonPid();
        if (pid > 1 && !WaitGone(pid))
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

        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Ok((int Exit, string Out, string Err) r, string what) =>
        Assert.True(r.Exit == 0, $"{what}: exit {r.Exit}\nstdout: {r.Out}\nstderr: {r.Err}");

    private static bool CanRead(string path)
    {
        try
        {
            File.ReadAllBytes(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string ProcessUid(int pid) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1];

    private static bool WaitUnmounted(string path)
    {
        var sw = Stopwatch.StartNew();
        while (CliSandbox.MountsLine(path) is not null)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    private static bool WaitGone(int pid)
    {
        var sw = Stopwatch.StartNew();
        while (Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        File.SetUnixFileMode(to, (UnixFileMode)0x1ED);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            var target = Path.Combine(to, Path.GetFileName(file));
            File.Copy(file, target);
            File.SetUnixFileMode(target, (UnixFileMode)0x1A4); // 0644
        }
    }

    private string MountPoint(string name)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(path);
        Chown(path);
        return path;
    }

    private int DaemonPid()
    {
        var r = Tmpfs("status", "--json");
        return r.Exit == 0 && r.Out.TrimStart().StartsWith('{')
            ? System.Text.Json.JsonDocument.Parse(r.Out).RootElement.GetProperty("pid").GetInt32()
            : 0;
    }

    private void Chown(string path) => Exec("chown", [Nobody + ":" + Nobody, path], asUser: false);

    private (int Exit, string Out, string Err) Tmpfs(params string[] args) =>
        AsUser(dotnet, [Path.Combine(app, "Tmpfs.Cli.dll"), .. args]);

    private (int Exit, string Out, string Err) AsUser(string program, IEnumerable<string> args) =>
        Exec("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", "--", program, .. args], asUser: true);

    private (int Exit, string Out, string Err) Exec(string program, IEnumerable<string> args, bool asUser) =>
        CliSandbox.RunProcess(program, args, "/", asUser
            ? new Dictionary<string, string?>
            {
                ["HOME"] = run,
                ["XDG_RUNTIME_DIR"] = run,
                ["DOTNET_CLI_HOME"] = run,
                ["TMPFS_CONTROL_SOCKET"] = null,
                ["DOTNET_ROOT"] = Path.GetDirectoryName(dotnet),
            }
            : new Dictionary<string, string?>());
}
