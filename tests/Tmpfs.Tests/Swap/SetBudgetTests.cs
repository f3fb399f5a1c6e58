using Tmpfs.Shmem;

namespace Tmpfs.Tests.Swap;

/// <summary>Moving the budget at run time, as writing a memory cgroup's limit does.</summary>
public sealed class SetBudgetTests
{
    [Fact]
    public void RaisingTheBudget_LetsSwapoffBringEverythingBack()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(1L << 20, 8L << 20);
        Assert.Equal(1L << 20, memory.TotalBytes);
        memory.Swapon(dir.File("swap0"), 16L << 20);
        var fs = memory.Mount("size=8M");
        var data = new byte[4 << 20];
        new Random(7).NextBytes(data);
        using (var h = fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4))
        {
            Assert.Equal(data.Length, h.Write(data, 0));
        }

        Assert.True(memory.MemInfo.PswpOut > 0, "nothing was swapped out");
        Assert.Equal(Errno.ENOMEM, Assert.Throws<TmpfsException>(() => memory.Swapoff(dir.File("swap0"))).Errno);

        memory.SetBudget(6L << 20);
        Assert.Equal(6L << 20, memory.TotalBytes);
        memory.Swapoff(dir.File("swap0"));
        Assert.Empty(memory.SwapDevices);
        Assert.True(SwapIntegrityTests.ReadAll(fs, "/f", data.Length).AsSpan().SequenceEqual(data));
        Assert.Empty(Fsck.Check(fs.Superblock));
        fs.Unmount();
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
    }

    [Fact]
    public void LoweringTheBudget_ReclaimsToSwap_OrIsEbusyWithoutSwap()
    {
        using var dir = new SwapDir();
        using var memory = new MemoryManager(4L << 20, 4L << 20);
        var fs = memory.Mount("size=4M");
        var data = new byte[2 << 20];
        new Random(9).NextBytes(data);
        using (var h = fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4))
        {
            h.Write(data, 0);
        }

        // No swap: 2 MiB of pages cannot go under 1 MiB.
        Assert.Equal(Errno.EBUSY, Assert.Throws<TmpfsException>(() => memory.SetBudget(1L << 20)).Errno);
        Assert.Equal(4L << 20, memory.TotalBytes);
        Assert.Equal(Errno.EINVAL, Assert.Throws<TmpfsException>(() => memory.SetBudget(8L << 20)).Errno);

        memory.Swapon(dir.File("swap0"), 8L << 20);
        memory.SetBudget(1L << 20);
        Assert.Equal(1L << 20, memory.TotalBytes);
        Assert.True(memory.ShmemBytes <= 1L << 20);
        Assert.True(memory.MemInfo.PswpOut > 0);
        Assert.True(SwapIntegrityTests.ReadAll(fs, "/f", data.Length).AsSpan().SequenceEqual(data));
        Assert.Empty(Fsck.Check(fs.Superblock));
        fs.Unmount();
        Assert.Equal(memory.TotalBytes, memory.FreeBytes);
    }
}
