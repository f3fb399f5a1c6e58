namespace Tmpfs.Fuse.Tests;

public sealed class SmokeTests
{
    [SkippableFact]
    public void ShellWritesAndReadsAFile()
    {
        using var m = new MountedTmpfs();
        var (exit, output, err) = m.Sh("echo hi > f; cat f; ls -la; stat -c '%s %a %U' f; df -PT .");
        Assert.True(exit == 0, err + m.Log);
        Assert.StartsWith("hi\n", output, StringComparison.Ordinal);
        Assert.Equal(0, m.Mount.Unmount());
        Assert.False(MountedTmpfs.IsMounted(m.Path));
    }
}

public sealed class ProgramTests
{
    [SkippableFact]
    public void TarAndGitWork()
    {
        Skip.IfNot(File.Exists("/usr/bin/git") && File.Exists("/usr/bin/tar"), "git or tar missing");
        using var m = new MountedTmpfs();
        var r = m.Sh("""
            set -e
            mkdir src && for i in 1 2 3 4 5; do echo "line $i" > src/f$i; done
            tar -cf a.tar src && mkdir out && tar -xf a.tar -C out && diff -r src out/src
            git init -q repo && cd repo && git config user.email t@t && git config user.name t
            cp ../src/* . && git add . && git commit -qm one && git mv f1 g1 && git commit -qm two
            git log --oneline | wc -l
            git fsck --no-progress 2>&1 | grep -v '^Checking' || true
            """);
        Assert.True(r.Exit == 0, r.Err + m.Log);
        Assert.Contains("2", r.Out, StringComparison.Ordinal);
        Assert.Equal(0, m.Mount.Unmount());
    }
}
