using CsCheck;

namespace Tmpfs.Tests.Differential;

/// <summary>
/// Checks of the kernel side of the differential test on its own: that it is deterministic
/// (the same sequence twice gives the same results) and that caller switching really makes
/// the kernel check permissions as an unprivileged user.
/// </summary>
public sealed class KernelSelfCheckTests
{
    public KernelSelfCheckTests() => KernelTarget.CleanStaleMounts();

    [Fact]
    public void Same_sequence_twice_gives_same_results()
    {
        var full = KernelTarget.IsRoot;
        OpGen.Scenario(full, 150, 300).Sample(
            s =>
            {
                var first = Harness.RunKernel(s);
                var second = Harness.RunKernel(s);
                if (Harness.Compare(first, second) is { } m)
                {
                    throw new InvalidOperationException(
                        "kernel run not reproducible:\n" + Harness.Report(s, first, second, "run 1", "run 2"));
                }
            },
            iter: 6,
            threads: 1,
            print: s => $"{s.Ops.Length} ops");
    }

    [Fact]
    public void Setfsuid_drops_capabilities_on_this_thread_only()
    {
        if (!KernelTarget.IsRoot)
        {
            return; // without root there is no caller switching to check
        }

        const ulong CapDacOverride = 1UL << 1;
        using var target = new KernelTarget("size=1m,nr_inodes=100");
        using var switched = new ManualResetEventSlim();
        using var checkedByOther = new ManualResetEventSlim();
        var log = new List<string>();
        var thread = new Thread(() =>
        {
            target.Begin();
            try
            {
                Native.Capget(out var rootEffective, out _);
                log.Add($"root effective has DAC_OVERRIDE: {(rootEffective & CapDacOverride) != 0}");
                log.Add($"create: {target.Open("/secret", Native.O_CREAT | Native.O_WRONLY, 0x180, out var h)}");
                target.Close(h!);
                target.SetCaller(Caller.All[1]);
                try
                {
                    Native.Capget(out var userEffective, out _);
                    log.Add($"user effective: {userEffective}");
                    log.Add($"user fsuid: {Native.Setfsuid(uint.MaxValue)}");
                    log.Add($"user open 0600 root file: {target.Open("/secret", Native.O_RDONLY, 0, out _)}");
                    log.Add($"user trusted xattr: {target.SetXattr("/", "trusted.x", [1], 0, true)}");
                    switched.Set();
                    checkedByOther.Wait();
                }
                finally
                {
                    target.RestoreRoot();
                }

                log.Add($"root again open: {target.Open("/secret", Native.O_RDONLY, 0, out var h2)}");
                target.Close(h2!);
                Native.Capget(out var restored, out _);
                log.Add($"restored effective == before: {restored == rootEffective}");
            }
            finally
            {
                switched.Set();
                target.End();
            }
        });
        thread.Start();
        switched.Wait();

        // Meanwhile this thread is still root with all its capabilities.
        var otherFsuid = Native.Setfsuid(uint.MaxValue);
        Native.Capget(out var otherEffective, out _);
        checkedByOther.Set();
        thread.Join();

        Assert.Equal(
            [
                "root effective has DAC_OVERRIDE: True",
                "create: 0",
                "user effective: 0",
                "user fsuid: 1000",
                $"user open 0600 root file: {-(int)Errno.EACCES}",
                $"user trusted xattr: {-(int)Errno.EPERM}",
                "root again open: 0",
                "restored effective == before: True",
            ],
            log);
        Assert.Equal(0, otherFsuid);
        Assert.NotEqual(0UL, otherEffective & CapDacOverride);
    }
}
