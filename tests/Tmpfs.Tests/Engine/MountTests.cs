namespace Tmpfs.Tests.Engine;

public class MountTests : EngineTest
{
    [Fact]
    public void UnmountWithOpenHandlesIsEBUSY()
    {
        var h = Fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly);
        Fails(Errno.EBUSY, () => Fs.Unmount());
        Assert.False(Fs.IsUnmounted);
        h.Dispose();
        var d = Fs.OpenDirectory("/");
        Assert.Equal(Errno.EBUSY, Err(() => Fs.Unmount()));
        d.Dispose();
        Fs.Unmount();
        Assert.True(Fs.IsUnmounted);
        Assert.Equal(Errno.EINVAL, Err(() => Fs.Unmount()));
    }

    [Fact]
    public void UnmountGivesEveryPageBack()
    {
        var free = Memory.FreeBytes;
        var shmem = Memory.ShmemBytes;
        var fs = Memory.Mount("size=2M");
        fs.Mkdir("/d", 0x1ED /* 0755 */);
        using (var h = fs.Open("/d/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            h.Write(new byte[100_000], 0);
        }

        fs.Symlink(new string('t', 300), "/long");
        fs.SetXattr("/d/f", "user.a", new byte[100]);
        Assert.True(Memory.FreeBytes < free);
        fs.Unmount();
        Assert.Equal(free, Memory.FreeBytes);
        Assert.Equal(shmem, Memory.ShmemBytes);
        Assert.DoesNotContain(fs, Memory.Mounts);
    }

    [Fact]
    public void DetachedUnmountTearsDownAtTheLastClose()
    {
        var free = Memory.FreeBytes;
        var fs = Memory.Mount();
        var h = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite);
        h.Write(new byte[8192], 0);
        var d = fs.OpenDirectory("/");
        fs.Unmount(detach: true);
        Assert.True(fs.IsUnmounted);
        Assert.Equal(Errno.ENODEV, Err(() => fs.Stat("/")));
        Assert.Equal(Errno.ENODEV, Err(() => fs.Open("/g", OpenFlags.Create | OpenFlags.WriteOnly)));

        // Open handles keep working on the detached mount.
        Assert.Equal(4, h.Write(Bytes("more"), 8192));
        Assert.Equal(8196, h.Stat().Size);
        h.Dispose();
        Assert.True(Memory.FreeBytes < free);
        d.Dispose();
        Assert.Equal(free, Memory.FreeBytes);
        Assert.Equal(0, Memory.ShmemBytes);
    }

    [Fact]
    public void RemountChangesLimits()
    {
        Fs.Remount("size=2M,nr_inodes=100");
        Assert.Equal(2 << 20, Fs.SizeLimit);
        Assert.Equal(100, Fs.InodeLimit);
        Assert.Equal(512, Fs.StatFs().Blocks);
        Assert.Equal(99, Fs.StatFs().FilesFree);
    }

    [Fact]
    public void RemountBelowUseIsEINVALAndChangesNothing()
    {
        using (var h = Fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
            h.Write(new byte[10 * 4096], 0);
        }

        Create("/g");
        Fails(Errno.EINVAL, () => Fs.Remount("size=8k"));
        Fails(Errno.EINVAL, () => Fs.Remount("nr_inodes=2"));
        Assert.Equal(1 << 20, Fs.SizeLimit);
        Fs.Remount("size=40k,nr_inodes=3"); // exactly what is in use
        Assert.Equal(0, Fs.StatFs().BlocksFree);
        Assert.Equal(0, Fs.StatFs().FilesFree);
        Assert.Equal(Errno.ENOSPC, Err(() => Create("/h")));
    }

    [Fact]
    public void RemountOfAnUnlimitedMountToALimitIsEINVAL()
    {
        var fs = Memory.Mount("size=0,nr_inodes=0");
        Assert.Equal(Errno.EINVAL, Err(() => fs.Remount("size=1M")));
        Assert.Equal(Errno.EINVAL, Err(() => fs.Remount("nr_inodes=10")));
        fs.Remount("size=0");
        fs.Unmount();
    }

    [Fact]
    public void RemountWithABadOptionIsEINVAL() => Fails(Errno.EINVAL, () => Fs.Remount("size=bogus"));
}
