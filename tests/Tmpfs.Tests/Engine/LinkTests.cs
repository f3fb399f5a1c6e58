namespace Tmpfs.Tests.Engine;

public class LinkTests : EngineTest
{
    public LinkTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Create("/f", "f");
        Fs.Symlink("f", "/lf");
        Fs.Symlink("nowhere", "/dang");
    }

    [Fact]
    public void LinkAddsANameAndCountsIt()
    {
        var st = Fs.Link("/f", "/d/g");
        Assert.Equal(2u, st.Nlink);
        Assert.Equal(Fs.Stat("/f").Ino, Fs.Stat("/d/g").Ino);
        Assert.Equal(2u, Fs.Stat("/f").Nlink);
    }

    [Fact]
    public void LinkOfASymlinkLinksTheSymlinkItself()
    {
        // kernel 6.18: link(2) does not follow; a dangling symlink can be linked too.
        Fs.Link("/lf", "/lf2");
        Assert.True(Fs.Stat("/lf2", follow: false).IsSymlink);
        Fs.Link("/dang", "/dang2");
        Assert.Equal(2u, Fs.Stat("/dang", follow: false).Nlink);
    }

    [Theory]
    [InlineData("/d", "/d2", Errno.EPERM)]
    [InlineData("/f", "/lf", Errno.EEXIST)]
    [InlineData("/f", "/d", Errno.EEXIST)]
    [InlineData("/missing", "/x", Errno.ENOENT)]
    [InlineData("/f", "/x/", Errno.ENOENT)]
    [InlineData("/f/", "/x", Errno.ENOTDIR)]
    [InlineData("/f", "/missing/x", Errno.ENOENT)]
    public void LinkFails(string from, string to, Errno errno) => Fails(errno, () => Fs.Link(from, to)); // kernel 6.18

    [Fact]
    public void EachExtraLinkCostsInodeSpace()
    {
        // kernel 6.18, nr_inodes=3 (root + f + one slot): the first link takes the slot, the second is ENOSPC.
        using var memory = new MemoryManager(1 << 20);
        var fs = memory.Mount("nr_inodes=3");
        using (fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
        }

        fs.Link("/f", "/f2");
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Link("/f", "/f3")));
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Mkdir("/d", 0x1ED /* 0755 */)));
        fs.Unlink("/f2");
        fs.Link("/f", "/f3");
        fs.Unmount();
    }

    [Fact]
    public void LinkChangesTheFileCtimeAndTheDirectoryTimes()
    {
        Clock.Advance();
        Fs.Link("/f", "/d/g");
        Assert.Equal(Clock.Now, Fs.Stat("/f").Ctime);
        Assert.NotEqual(Clock.Now, Fs.Stat("/f").Mtime);
        Assert.Equal(Clock.Now, Fs.Stat("/d").Mtime);
        Assert.Equal(Clock.Now, Fs.Stat("/d").Ctime);
    }
}
