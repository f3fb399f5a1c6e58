namespace Tmpfs.Tests.Engine;

public class RenameTests : EngineTest
{
    public RenameTests()
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
        Fs.Mkdir("/d/sub", 0x1ED /* 0755 */);
        Fs.Mkdir("/e", 0x1ED /* 0755 */);
        Create("/e/x", "x");
        Fs.Mkdir("/empty", 0x1ED /* 0755 */);
        Create("/f", "f");
        Fs.Symlink("nowhere", "/dang");
    }

    [Fact]
    public void RenameMovesAFile()
    {
        var ino = Fs.Stat("/f").Ino;
        Fs.Rename("/f", "/d/g");
        Assert.False(Exists("/f"));
        Assert.Equal(ino, Fs.Stat("/d/g").Ino);
        Assert.Equal("f", ReadText("/d/g"));
    }

    [Fact]
    public void RenameOverAFileReplacesItAndFreesTheOldOne()
    {
        var inodes = Fs.UsedInodes;
        Fs.Rename("/f", "/e/x");
        Assert.Equal("f", ReadText("/e/x"));
        Assert.Equal(inodes - 1, Fs.UsedInodes);
    }

    [Fact]
    public void RenameADirectoryMovesItsLinkCount()
    {
        Fs.Rename("/d/sub", "/e/sub");
        Assert.Equal(2u, Fs.Stat("/d").Nlink);
        Assert.Equal(3u, Fs.Stat("/e").Nlink);
        var dotdot = Fs.OpenDirectory("/e/sub");
        using (dotdot)
        {
            Assert.Equal(Fs.Stat("/e").Ino, dotdot.Read(0, 2)[1].Ino);
        }

        Assert.Equal(Fs.Stat("/e").Ino, Fs.Stat("/e/sub/..").Ino);
    }

    [Fact]
    public void RenameOverAnEmptyDirectory()
    {
        Fs.Rename("/d", "/empty");
        Assert.False(Exists("/d"));
        Assert.True(Fs.Stat("/empty/sub").IsDirectory);
    }

    [Fact]
    public void RenameToTheSameNameOrAnotherLinkOfTheSameFileDoesNothing()
    {
        Fs.Link("/f", "/h");
        var before = Snapshot();
        Fs.Rename("/f", "/f");
        Fs.Rename("/f", "/h"); // kernel 6.18: both names stay
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void RenameADirectoryWithATrailingSlashOnTheNewName()
    {
        Fs.Rename("/d", "/d2/");
        Assert.True(Fs.Stat("/d2").IsDirectory);
    }

    [Theory]
    [InlineData("/f", "/d", Errno.EISDIR)]
    [InlineData("/dang", "/d", Errno.EISDIR)]
    [InlineData("/d", "/f", Errno.ENOTDIR)]
    [InlineData("/d", "/e", Errno.ENOTEMPTY)]
    [InlineData("/d", "/d/sub/x", Errno.EINVAL)]
    [InlineData("/d", "/d/x", Errno.EINVAL)]
    [InlineData("/d", "/d/sub", Errno.EINVAL)]
    [InlineData("/d/sub", "/d", Errno.ENOTEMPTY)]
    [InlineData("/f", "/nf/", Errno.ENOTDIR)]
    [InlineData("/f/", "/nf", Errno.ENOTDIR)]
    [InlineData("/d/.", "/z", Errno.EBUSY)]
    [InlineData("/", "/z", Errno.EBUSY)]
    [InlineData("/f", "/d/.", Errno.EBUSY)]
    [InlineData("/f", "/d/..", Errno.EBUSY)]
    [InlineData("/missing", "/z", Errno.ENOENT)]
    [InlineData("/missing", "/nodir/x", Errno.ENOENT)]
    [InlineData("/f", "/nodir/x", Errno.ENOENT)]
    [InlineData("/f", "/f/x", Errno.ENOTDIR)]
    public void RenameFails(string from, string to, Errno errno) => Fails(errno, () => Fs.Rename(from, to)); // kernel 6.18

    [Fact]
    public void NoReplaceRefusesAnExistingTarget()
    {
        Fails(Errno.EEXIST, () => Fs.Rename("/f", "/e/x", RenameFlags.NoReplace));
        Fails(Errno.EEXIST, () => Fs.Rename("/f", "/d/.", RenameFlags.NoReplace));
        Fails(Errno.ENOENT, () => Fs.Rename("/missing", "/f", RenameFlags.NoReplace));
        Fs.Rename("/f", "/new", RenameFlags.NoReplace);
        Assert.True(Exists("/new"));
    }

    [Fact]
    public void ExchangeSwapsAFileAndADirectory()
    {
        var f = Fs.Stat("/f").Ino;
        var d = Fs.Stat("/d").Ino;
        Fs.Rename("/f", "/d", RenameFlags.Exchange);
        Assert.Equal(d, Fs.Stat("/f").Ino);
        Assert.Equal(f, Fs.Stat("/d").Ino);
        Assert.True(Fs.Stat("/f/sub").IsDirectory);
    }

    [Fact]
    public void ExchangeAcrossDirectoriesMovesLinkCounts()
    {
        Fs.Rename("/d/sub", "/e/x", RenameFlags.Exchange);
        Assert.Equal(2u, Fs.Stat("/d").Nlink);
        Assert.Equal(3u, Fs.Stat("/e").Nlink);
        Assert.True(Fs.Stat("/e/x").IsDirectory);
        Assert.Equal(Fs.Stat("/e").Ino, Fs.Stat("/e/x/..").Ino);
        Assert.Equal("x", ReadText("/d/sub"));
    }

    [Fact]
    public void ExchangeAllowsATrailingSlashOnTheDirectorySide()
    {
        // kernel 6.18: renameat2("f", "d/", EXCHANGE) with f a file and d a directory succeeds.
        Fs.Rename("/f", "/d/", RenameFlags.Exchange);
        Assert.True(Fs.Stat("/f").IsDirectory);
        Fs.Rename("/f/", "/d", RenameFlags.Exchange);
        Assert.True(Fs.Stat("/d").IsDirectory);
    }

    [Theory]
    [InlineData("/f", "/missing", Errno.ENOENT)]
    [InlineData("/missing", "/f", Errno.ENOENT)]
    [InlineData("/d/sub", "/d", Errno.EINVAL)]
    [InlineData("/d", "/d/sub", Errno.EINVAL)]
    public void ExchangeFails(string from, string to, Errno errno) =>
        Fails(errno, () => Fs.Rename(from, to, RenameFlags.Exchange)); // kernel 6.18

    [Theory]
    [InlineData(RenameFlags.NoReplace | RenameFlags.Exchange)]
    [InlineData(RenameFlags.Whiteout | RenameFlags.Exchange)]
    [InlineData((RenameFlags)8)]
    public void BadFlagsAreEINVAL(RenameFlags flags) => Fails(Errno.EINVAL, () => Fs.Rename("/f", "/d", flags));

    [Fact]
    public void WhiteoutLeavesACharacterDevice00AtTheOldName()
    {
        // kernel 6.18 (root): renameat2("f", "wf", RENAME_WHITEOUT) leaves c 0:0 mode 0 at "f".
        var ino = Fs.Stat("/f").Ino;
        Fs.Rename("/f", "/wf", RenameFlags.Whiteout);
        Assert.Equal(ino, Fs.Stat("/wf").Ino);
        var w = Fs.Stat("/f");
        Assert.Equal(FileModes.CharDevice, w.Mode);
        Assert.Equal(0ul, w.Rdev);
    }

    [Fact]
    public void WhiteoutWorksForAnyCallerAndOverATarget()
    {
        // kernel 6.18: uid 1000 may rename with RENAME_WHITEOUT; over an existing target too;
        // with NOREPLACE onto an existing target it is EEXIST.
        Fs.Chmod("/", 0x3FF /* 01777 */);
        Create("/af", "a", cred: Alice);
        Fs.Rename("/af", "/ag", RenameFlags.Whiteout, Alice);
        Assert.Equal(FileModes.CharDevice, Fs.Stat("/af").Mode);
        Fs.Rename("/f", "/e/x", RenameFlags.Whiteout);
        Assert.Equal("f", ReadText("/e/x"));
        Assert.Equal(FileModes.CharDevice, Fs.Stat("/f").Mode);
        Fails(Errno.EEXIST, () => Fs.Rename("/ag", "/e/x", RenameFlags.Whiteout | RenameFlags.NoReplace));
        Fs.Rename("/d", "/d2", RenameFlags.Whiteout);
        Assert.Equal(FileModes.CharDevice, Fs.Stat("/d").Mode);
        Assert.True(Fs.Stat("/d2/sub").IsDirectory);
    }

    [Fact]
    public void RenameUpdatesBothDirectoriesAndTheSourceCtime()
    {
        Clock.Advance();
        Fs.Rename("/f", "/d/f");
        var now = Clock.Now;
        Assert.Equal(now, Fs.Stat("/").Mtime);
        Assert.Equal(now, Fs.Stat("/d").Mtime);
        Assert.Equal(now, Fs.Stat("/d").Ctime);
        Assert.Equal(now, Fs.Stat("/d/f").Ctime);
        Assert.NotEqual(now, Fs.Stat("/d/f").Mtime);
    }
}
