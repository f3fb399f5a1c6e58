using System.Globalization;
using System.Text.Json;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// The tmpfs command against the real system: tmpfs mount/umount through its daemon, mount(8)
/// with -t fuse.tmpfs and an fstab line (through mount.fuse3), remount, ro, noexec, two mounts
/// on one budget, and a daemon killed with SIGKILL. One class: the tests share /usr/local/bin/tmpfs
/// (see <see cref="CliSandbox"/>), so they run one at a time. Skipped when not root or without /dev/fuse.
/// </summary>
public sealed class CliMountTests
{
    private static string Ok((int Exit, string Out, string Err) r, CliSandbox s, string what)
    {
        Assert.True(r.Exit == 0, $"{what}: exit {r.Exit}\nstdout: {r.Out}\nstderr: {r.Err}\ndaemon log:\n{s.Log}");
        return r.Out;
    }

    private static JsonElement Status(CliSandbox s)
    {
        var r = s.Tmpfs("status", "--json");
        Ok(r, s, "tmpfs status --json");
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    [SkippableFact]
    public void MountWriteUmountEndsTheDaemon()
    {
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", "-o", "size=64M,budget=256M", mp), s, "tmpfs mount");
        var line = CliSandbox.MountsLine(mp);
        Assert.NotNull(line);
        Assert.Equal("tmpfs", line[0]);
        Assert.Equal("fuse.tmpfs", line[2]);
        Assert.DoesNotContain("nosuid", line[3], StringComparison.Ordinal); // the kernel tmpfs's defaults: rw, suid, dev, exec
        Ok(s.Sh($"dd if=/dev/urandom of={mp}/f bs=1M count=5 status=none && test $(stat -c %s {mp}/f) = 5242880"), s, "write");
        var pid = s.DaemonPid;
        Assert.True(pid > 0);
        var st = Status(s);
        var m = st.GetProperty("mounts")[0];
        Assert.Equal(5L << 20, m.GetProperty("usedBytes").GetInt64());
        Assert.Equal(5L << 20, m.GetProperty("residentBytes").GetInt64());
        Assert.Equal(64L << 20, m.GetProperty("sizeLimit").GetInt64());
        Assert.Equal(256L << 20, st.GetProperty("memInfo").GetProperty("MemTotal").GetInt64());

        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");
        Assert.Null(CliSandbox.MountsLine(mp));
        Assert.True(s.WaitDaemonGone(pid), "the daemon did not exit after its last mount");
        Assert.Contains("unmounted " + mp, s.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("FAILED", s.Log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void MountTypeFuseTmpfsShowsTheSourceAndUmountEndsIt()
    {
        using var s = new CliSandbox(installForMount: true);
        var mp = s.MountPoint("m");
        Ok(s.Run("mount", ["-t", "fuse.tmpfs", "mysrc", mp, "-o", "size=64M,nr_inodes=1000"]), s, "mount -t fuse.tmpfs");
        var line = CliSandbox.MountsLine(mp);
        Assert.NotNull(line);
        Assert.Equal("mysrc", line[0]);
        Assert.Equal("fuse.tmpfs", line[2]);
        var df = s.Sh($"stat -f -c '%b %S %c' {mp}");
        Ok(df, s, "stat -f");
        var f = df.Out.Trim().Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(64L << 20, f[0] * f[1]);
        Assert.Equal(1000, f[2]);
        var pid = s.DaemonPid;
        Ok(s.Run("umount", [mp]), s, "umount");
        Assert.Null(CliSandbox.MountsLine(mp));
        Assert.True(s.WaitDaemonGone(pid));
        Assert.DoesNotContain("FAILED", s.Log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void FstabLineMountsWithItsOptions()
    {
        using var s = new CliSandbox(installForMount: true);
        var mp = s.MountPoint("m");
        var fstab = Path.Combine(s.Dir, "fstab");
        File.WriteAllText(fstab, $"fromfstab {mp} fuse.tmpfs size=32M,noexec,nodev,x-systemd.test 0 0\n");
        Ok(s.Run("mount", ["-T", fstab, mp]), s, "mount -T fstab");
        var line = CliSandbox.MountsLine(mp);
        Assert.NotNull(line);
        Assert.Equal("fromfstab", line[0]);
        Assert.Contains("noexec", line[3].Split(','));
        Assert.Contains("nodev", line[3].Split(','));
        Ok(s.Sh($"cp /bin/true {mp}/t && ! {mp}/t"), s, "noexec refuses to run a program");
        Ok(s.Run("umount", ["-l", mp]), s, "umount -l");
        Assert.Null(CliSandbox.MountsLine(mp));
    }

    [SkippableFact]
    public void RemountChangesLimitsAndRefusesBelowUse()
    {
        using var s = new CliSandbox(installForMount: true);
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", "-o", "size=8M,nr_inodes=50", mp), s, "tmpfs mount");
        Ok(s.Sh($"dd if=/dev/zero of={mp}/f bs=1M count=6 status=none"), s, "write 6M");
        var small = s.Run("mount", ["-o", "remount,size=4M", mp]);
        Assert.NotEqual(0, small.Exit);
        Assert.Contains("Too small a size for current use", small.Err, StringComparison.Ordinal);
        var tmpfsSmall = s.Tmpfs("remount", "-o", "nr_inodes=1", mp);
        Assert.NotEqual(0, tmpfsSmall.Exit);
        Assert.Contains("Too few inodes for current use", tmpfsSmall.Err, StringComparison.Ordinal);

        Ok(s.Run("mount", ["-o", "remount,size=32M,nr_inodes=200", mp]), s, "mount -o remount");
        var df = s.Sh($"stat -f -c '%b %S %c' {mp}");
        var f = df.Out.Trim().Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(32L << 20, f[0] * f[1]);
        Assert.Equal(200, f[2]);
        Ok(s.Sh($"dd if=/dev/zero of={mp}/g bs=1M count=20 status=none"), s, "the larger size is usable");

        Ok(s.Run("mount", ["-o", "remount,ro", mp]), s, "remount ro");
        Assert.Contains("ro", CliSandbox.MountsLine(mp)![3].Split(','));
        var write = s.Sh($"echo x > {mp}/h");
        Assert.NotEqual(0, write.Exit);
        Assert.Contains("Read-only file system", write.Err, StringComparison.Ordinal);
        Ok(s.Run("mount", ["-o", "remount,rw", mp]), s, "remount rw");
        Ok(s.Sh($"echo x > {mp}/h"), s, "writable again");
        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");
    }

    [SkippableFact]
    public void DirectIoIsAMountOptionThatRemountKeeps()
    {
        using var s = new CliSandbox(installForMount: true);
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", "-o", "size=8M,direct_io", mp), s, "tmpfs mount -o direct_io");
        Ok(s.Sh($"dd if=/dev/urandom of={mp}/f bs=64k count=16 status=none && cmp {mp}/f {mp}/f && dd if={mp}/f of=/dev/null bs=1M status=none"), s, "write and read");
        Assert.Contains("direct_io", Ok(s.Tmpfs("status", mp), s, "status"), StringComparison.Ordinal);
        Ok(s.Run("mount", ["-o", "remount,size=16M", mp]), s, "remount without it keeps it");
        Assert.Contains("direct_io", Ok(s.Tmpfs("status", mp), s, "status"), StringComparison.Ordinal);
        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");

        // Not something a remount can switch: opens already made keep their mode.
        Ok(s.Tmpfs("mount", "-o", "size=8M", mp), s, "tmpfs mount");
        var change = s.Tmpfs("remount", "-o", "direct_io", mp);
        Assert.NotEqual(0, change.Exit);
        Assert.Contains("direct_io cannot change on remount", change.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("direct_io", Ok(s.Tmpfs("status", mp), s, "status"), StringComparison.Ordinal);
        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");
    }

    [SkippableFact]
    public void ReadOnlyMountRefusesWritesWithErofs()
    {
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", "-o", "ro,size=16M", mp), s, "tmpfs mount -o ro");
        Assert.Contains("ro", CliSandbox.MountsLine(mp)![3].Split(','));
        foreach (var script in new[] { $"echo x > {mp}/a", $"mkdir {mp}/d", $"ln -s x {mp}/l", $"chmod 700 {mp}" })
        {
            var r = s.Sh(script);
            Assert.NotEqual(0, r.Exit);
            Assert.Contains("Read-only file system", r.Err, StringComparison.Ordinal);
        }

        Ok(s.Sh($"ls {mp} && stat {mp} >/dev/null"), s, "reads work");
        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");
    }

    [SkippableFact]
    public void TwoMountsShareOneBudget()
    {
        using var s = new CliSandbox();
        var a = s.MountPoint("a");
        var b = s.MountPoint("b");
        Ok(s.Tmpfs("mount", "-o", "budget=48M,size=40M", a), s, "mount a");
        Ok(s.Tmpfs("mount", "--source", "second", "-o", "size=40M,nosuid", b), s, "mount b");
        Ok(s.Sh($"dd if=/dev/zero of={a}/f bs=1M count=32 status=none"), s, "fill a");

        // b's own limit allows 40M, but the budget both share has only ~16M left (no swap).
        var r = s.Sh($"dd if=/dev/zero of={b}/f bs=1M count=32 status=none");
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("No space left on device", r.Err, StringComparison.Ordinal);

        var st = Status(s);
        var mounts = st.GetProperty("mounts");
        Assert.Equal(2, mounts.GetArrayLength());
        Assert.Equal(a, mounts[0].GetProperty("mountPoint").GetString());
        Assert.Equal("second", mounts[1].GetProperty("source").GetString());
        Assert.Contains("nosuid", mounts[1].GetProperty("options").GetString(), StringComparison.Ordinal);
        Assert.Equal(48L << 20, st.GetProperty("budget").GetInt64());
        var text = s.Tmpfs("status");
        Ok(text, s, "tmpfs status");
        Assert.Contains(a, text.Out, StringComparison.Ordinal);
        Assert.Contains(b, text.Out, StringComparison.Ordinal);
        Assert.Contains("resident", text.Out, StringComparison.Ordinal);

        // A later mount cannot change the budget; it says so in one line.
        var c = s.MountPoint("c");
        var other = s.Tmpfs("mount", "-o", "budget=1G", c);
        Assert.Equal(32, other.Exit);
        Assert.Contains("budget", other.Err, StringComparison.Ordinal);

        var pid = s.DaemonPid;
        Ok(s.Tmpfs("umount", a), s, "umount a");
        Assert.Equal(1, Status(s).GetProperty("mounts").GetArrayLength());
        Ok(s.Tmpfs("umount", b), s, "umount b");
        Assert.True(s.WaitDaemonGone(pid));
    }

    [SkippableFact]
    public void SwapOnAndOffThroughTheDaemon()
    {
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        var swap = Path.Combine("/var/tmp", $"tmpfs-cli-test-{Environment.ProcessId}.swap");
        try
        {
            Ok(s.Tmpfs("mount", "-o", $"budget=16M,size=64M,swap={swap},swap_size=64M", mp), s, "mount with swap");
            Ok(s.Sh($"dd if=/dev/urandom of={mp}/f bs=1M count=24 status=none && cat {mp}/f > /dev/null"), s, "write past the budget");
            var st = Status(s);
            Assert.True(st.GetProperty("mounts")[0].GetProperty("swappedBytes").GetInt64() > 0);
            Assert.Equal(swap, st.GetProperty("swaps")[0].GetProperty("path").GetString());
            var extra = Path.Combine(s.Dir, "extra.swap");
            Ok(s.Tmpfs("swapon", "--size", "8M", "--priority", "3", extra), s, "tmpfs swapon");
            Assert.Equal(2, Status(s).GetProperty("swaps").GetArrayLength());
            Ok(s.Tmpfs("swapoff", extra), s, "tmpfs swapoff");
            Assert.False(File.Exists(extra));
            var bad = s.Tmpfs("swapoff", "/nonexistent.swap");
            Assert.Equal(1, bad.Exit);
            Assert.Single(bad.Err.Trim().Split('\n'));
            var pid = s.DaemonPid;
            Ok(s.Tmpfs("umount", mp), s, "tmpfs umount");
            Assert.True(s.WaitDaemonGone(pid));
            Assert.False(File.Exists(swap), "the swap file the daemon created is removed at its swapoff");
        }
        finally
        {
            File.Delete(swap);
        }
    }

    [SkippableFact]
    public void KilledDaemonLeavesAMountThatUmountClears()
    {
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", mp), s, "tmpfs mount");
        var pid = s.DaemonPid;
        Assert.True(pid > 1);
        Ok(s.Run("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)]), s, "kill -9");
        Assert.True(s.WaitDaemonGone(pid));
        var ls = s.Sh($"ls {mp}");
        Assert.NotEqual(0, ls.Exit);
        Assert.True(
            ls.Err.Contains("Transport endpoint is not connected", StringComparison.Ordinal) ||
            ls.Err.Contains("Software caused connection abort", StringComparison.Ordinal),
            ls.Err); // ENOTCONN, or ECONNABORTED for a request caught in flight
        Ok(s.Run("umount", [mp]), s, "umount of the dead mount");
        Assert.Null(CliSandbox.MountsLine(mp));

        // A new daemon starts over the dead one's socket and lock; tmpfs umount clears a dead mount too.
        Ok(s.Tmpfs("mount", mp), s, "mount again");
        var second = s.DaemonPid;
        Assert.True(second > 1);
        Assert.NotEqual(pid, second);
        Ok(s.Run("kill", ["-9", second.ToString(CultureInfo.InvariantCulture)]), s, "kill -9");
        Assert.True(s.WaitDaemonGone(second));
        Ok(s.Tmpfs("umount", mp), s, "tmpfs umount of the dead mount");
        Assert.Null(CliSandbox.MountsLine(mp));
    }

    [SkippableFact]
    public void KilledDaemonServingOverIoUringLeavesAMountThatUmountClears()
    {
        MountedTmpfs.SkipUnlessIoUring();
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        Ok(s.Tmpfs("mount", "-o", "io_uring=on", mp), s, "tmpfs mount -o io_uring=on");
        Ok(s.Sh($"echo x > {mp}/f && cat {mp}/f && ls -l {mp}"), s, "I/O over the rings");
        Assert.Contains("served over io_uring", s.Log, StringComparison.Ordinal);
        Assert.Contains("io_uring", Ok(s.Tmpfs("status", mp), s, "status"), StringComparison.Ordinal);
        var pid = s.DaemonPid;
        Ok(s.Run("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)]), s, "kill -9");
        Assert.True(s.WaitDaemonGone(pid));
        var ls = s.Sh($"ls {mp}");
        Assert.NotEqual(0, ls.Exit);
        Ok(s.Run("umount", [mp]), s, "umount of the dead mount");
        Assert.Null(CliSandbox.MountsLine(mp));
    }

    [SkippableFact]
    public void ErrorsAreOneLineAndNonZero()
    {
        using var s = new CliSandbox();
        var mp = s.MountPoint("m");
        foreach (var (args, expected) in new[]
        {
            (new[] { "mount", "-o", "size=lots", mp }, "Bad value for 'size'"),
            (new[] { "mount", "-o", "bogus", mp }, "Unknown parameter 'bogus'"),
            (new[] { "mount", "-o", "budget=x", mp }, "Bad value for 'budget'"),
            (new[] { "mount", Path.Combine(s.Dir, "missing") }, "does not exist"),
            (new[] { "umount", mp }, "not a mounted tmpfs"),
            (new[] { "swapon", Path.Combine(s.Dir, "s") }, "no tmpfs daemon is running"),
        })
        {
            var r = s.Tmpfs(args);
            Assert.True(r.Exit != 0, string.Join(' ', args));
            var lines = r.Err.Trim().Split('\n');
            Assert.True(lines.Length == 1, $"{string.Join(' ', args)}: {r.Err}");
            Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        }

        Assert.Null(CliSandbox.MountsLine(mp));
        Assert.Equal(0, s.DaemonPid); // no daemon was left running
    }

    [SkippableFact]
    public void EveryCommandHasHelp()
    {
        using var s = new CliSandbox();
        foreach (var command in new[] { "", "mount", "umount", "remount", "status", "swapon", "swapoff", "stress" })
        {
            var r = command.Length == 0 ? s.Tmpfs("--help") : s.Tmpfs(command, "--help");
            Ok(r, s, command + " --help");
            Assert.Contains("Usage:", r.Out, StringComparison.Ordinal);
        }
    }
}
