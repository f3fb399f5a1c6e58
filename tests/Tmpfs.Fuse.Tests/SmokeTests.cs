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
