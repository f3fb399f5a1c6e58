namespace Tmpfs.Tests.Engine;

public class ChmodChownTests : EngineTest
{
    public ChmodChownTests()
    {
        Create("/mine", "x");
        Fs.Chown("/mine", 1000, 1000);
        Create("/others", "x", 0x1B6 /* 0666 */);
        Fs.Chown("/others", 2000, 2000);
        Fs.Mkdir("/dd", 0x1ED /* 0755 */);
    }

    private int Mode(string path) => Fs.Stat(path).Mode & FileModes.PermissionMask;

    [Fact]
    public void ChmodSetsThePermissionBitsAndCtimeOnly()
    {
        Clock.Advance();
        Fs.Chmod("/mine", 0x180 /* 0600 */);
        var st = Fs.Stat("/mine");
        Assert.Equal(FileModes.Regular | 0x180, st.Mode);
        Assert.Equal(Clock.Now, st.Ctime);
        Assert.NotEqual(Clock.Now, st.Mtime);
    }

    [Fact]
    public void ChmodIgnoresTypeBits()
    {
        Fs.Chmod("/mine", FileModes.Directory | 0x1ED /* 0755 */);
        Assert.Equal(FileModes.Regular | 0x1ED, Fs.Stat("/mine").Mode);
    }

    [Fact]
    public void ChmodByANonOwnerIsEPERM() => Fails(Errno.EPERM, () => Fs.Chmod("/others", 0x1FF /* 0777 */, Alice));

    [Fact]
    public void ChmodSetGidIsDroppedForAnOwnerOutsideTheGroup()
    {
        // kernel 6.18: uid 1000 (groups 1000) chmod 02666 on its file of group 50 gives 0666.
        Fs.Chown("/mine", 1000, 50);
        Fs.Chmod("/mine", 0x5B6 /* 02666 */, Alice);
        Assert.Equal(0x1B6, Mode("/mine"));
        Fs.Chown("/mine", 1000, 1000);
        Fs.Chmod("/mine", 0x5A4 /* 02644 */, Alice);
        Assert.Equal(0x5A4, Mode("/mine"));
        Fs.Chmod("/others", 0x5B6 /* 02666 */); // root keeps it
        Assert.Equal(0x5B6, Mode("/others"));
    }

    [Fact]
    public void ChownByRoot()
    {
        Fs.Chown("/mine", 5, 6);
        Assert.Equal(5u, Fs.Stat("/mine").Uid);
        Assert.Equal(6u, Fs.Stat("/mine").Gid);
        Fs.Chown("/mine", uint.MaxValue, 7);
        Assert.Equal(5u, Fs.Stat("/mine").Uid);
        Assert.Equal(7u, Fs.Stat("/mine").Gid);
    }

    [Fact]
    public void ChownRules()
    {
        // kernel 6.18, uid 1000: chown to 2000 EPERM; chown to itself ok; chgrp to a group it is
        // not in EPERM; chgrp of another's file EPERM.
        Fails(Errno.EPERM, () => Fs.Chown("/mine", 2000, uint.MaxValue, Alice));
        Fs.Chown("/mine", 1000, uint.MaxValue, Alice);
        Fails(Errno.EPERM, () => Fs.Chown("/mine", uint.MaxValue, 50, Alice));
        Fails(Errno.EPERM, () => Fs.Chown("/others", uint.MaxValue, 1000, Alice));
        var member = new Credentials(1000, 1000, [50]);
        Fs.Chown("/mine", uint.MaxValue, 50, member);
        Assert.Equal(50u, Fs.Stat("/mine").Gid);
    }

    [Theory]
    [InlineData(0xDED /* 06755 */, 5u, 5u, 0x1ED /* 0755 */)]
    [InlineData(0xDED /* 06755 */, uint.MaxValue, uint.MaxValue, 0x1ED /* 0755 */)]
    [InlineData(0xDE5 /* 06745 */, 5u, 5u, 0x5E5 /* 02745 */)]
    public void RootChownClearsSetUidAndExecutableSetGid(int mode, uint uid, uint gid, int expected)
    {
        // kernel 6.18 (root): chown(-1,-1) on 06755 gives 0755; chown on 06745 keeps set-gid (no group x).
        Fs.Chmod("/mine", mode);
        Fs.Chown("/mine", uid, gid);
        Assert.Equal(expected, Mode("/mine"));
    }

    [Fact]
    public void ChownOfADirectoryKeepsItsSetIdBits()
    {
        // kernel 6.18: chown of a 06755 directory leaves 06755.
        Fs.Chmod("/dd", 0xDED /* 06755 */);
        Fs.Chown("/dd", 5, 5);
        Assert.Equal(0xDED, Mode("/dd"));
    }

    [Fact]
    public void ChownWithoutChangesStillUpdatesCtime()
    {
        Clock.Advance();
        Fs.Chown("/mine", uint.MaxValue, uint.MaxValue);
        Assert.Equal(Clock.Now, Fs.Stat("/mine").Ctime);
    }

    [Fact]
    public void ANonRootWriteClearsSetUidAndExecutableSetGid()
    {
        // kernel 6.18: uid 1000 writing its own 06755 file leaves 0755; its 02644 file (own group) stays.
        Fs.Chmod("/mine", 0xDED /* 06755 */);
        using (var h = Fs.Open("/mine", OpenFlags.WriteOnly, cred: Alice))
        {
            h.Write(Bytes("y"), 0);
        }

        Assert.Equal(0x1ED, Mode("/mine"));
        Fs.Chmod("/mine", 0x5A4 /* 02644 */);
        using (var h = Fs.Open("/mine", OpenFlags.WriteOnly, cred: Alice))
        {
            h.Write(Bytes("y"), 0);
        }

        Assert.Equal(0x5A4, Mode("/mine"));
    }

    [Fact]
    public void AWriterOutsideTheGroupClearsSetGidEvenWithoutGroupExecute()
    {
        // kernel 6.18: file 1000:3000 mode 02666 written by uid 1000 (not in 3000) becomes 0666.
        Fs.Chown("/mine", 1000, 3000);
        Fs.Chmod("/mine", 0x5B6 /* 02666 */);
        using (var h = Fs.Open("/mine", OpenFlags.WriteOnly, cred: Alice))
        {
            h.Write(Bytes("y"), 0);
        }

        Assert.Equal(0x1B6, Mode("/mine"));
    }

    [Fact]
    public void ARootWriteKeepsSetIdBits()
    {
        Fs.Chmod("/mine", 0xDED /* 06755 */);
        using (var h = Fs.Open("/mine", OpenFlags.WriteOnly))
        {
            h.Write(Bytes("y"), 0);
        }

        Assert.Equal(0xDED, Mode("/mine"));
    }

    [Fact]
    public void ANonRootTruncateClearsSetUid()
    {
        Fs.Chmod("/mine", 0x9ED /* 04755 */);
        Fs.Truncate("/mine", 0, Alice);
        Assert.Equal(0x1ED, Mode("/mine"));
    }

    [Fact]
    public void FchmodAndFchownThroughAHandle()
    {
        using var h = Fs.Open("/mine", OpenFlags.ReadOnly, cred: Alice);
        h.Chmod(0x180 /* 0600 */);
        Assert.Equal(0x180, Mode("/mine"));
        Assert.Equal(Errno.EPERM, Err(() => h.Chown(2000, uint.MaxValue)));
    }
}
