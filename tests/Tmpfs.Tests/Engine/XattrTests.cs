namespace Tmpfs.Tests.Engine;

public class XattrTests : EngineTest
{
    public XattrTests()
        : base("size=1M,nr_inodes=200")
    {
        Create("/f");
        Create("/mine");
        Fs.Chown("/mine", 1000, 1000);
        Create("/others", string.Empty, 0x1B6 /* 0666 */);
        Fs.Chown("/others", 2000, 2000);
        Create("/secret", string.Empty, 0x180 /* 0600 */);
        Fs.Symlink("f", "/lf");
        Fs.Mkdir("/sticky", 0x3FF /* 01777 */);
        Fs.Mkdir("/pub", 0x1FF /* 0777 */);
    }

    [Fact]
    public void SetGetListRemove()
    {
        Fs.SetXattr("/f", "user.a", Bytes("one"));
        Fs.SetXattr("/f", "trusted.b", Bytes("two"));
        Fs.SetXattr("/f", "security.c", []);
        Assert.Equal(Bytes("one"), Fs.GetXattr("/f", "user.a"));
        Assert.Empty(Fs.GetXattr("/f", "security.c"));
        Assert.Equal(["user.a", "trusted.b", "security.c"], Fs.ListXattr("/f"));
        Fs.RemoveXattr("/f", "user.a");
        Assert.Equal(["trusted.b", "security.c"], Fs.ListXattr("/f"));
    }

    [Fact]
    public void CreateAndReplaceFlags()
    {
        Fs.SetXattr("/f", "user.k", Bytes("12345"));
        Fails(Errno.EEXIST, () => Fs.SetXattr("/f", "user.k", Bytes("1"), XattrFlags.Create));
        Fails(Errno.EEXIST, () => Fs.SetXattr("/f", "user.k", Bytes("1"), XattrFlags.Create | XattrFlags.Replace));
        Fails(Errno.ENODATA, () => Fs.SetXattr("/f", "user.zz", Bytes("1"), XattrFlags.Replace));
        Fails(Errno.EINVAL, () => Fs.SetXattr("/f", "user.k", Bytes("1"), (XattrFlags)4));
        Fs.SetXattr("/f", "user.k", Bytes("6"), XattrFlags.Replace);
        Assert.Equal(Bytes("6"), Fs.GetXattr("/f", "user.k"));
    }

    [Fact]
    public void MissingIsENODATA()
    {
        Fails(Errno.ENODATA, () => Fs.GetXattr("/f", "user.zz"));
        Fails(Errno.ENODATA, () => Fs.RemoveXattr("/f", "user.zz"));
    }

    [Fact]
    public void SmallBuffersAreERANGEAndAnEmptyOneAsksForTheSize()
    {
        Fs.SetXattr("/f", "user.k", Bytes("12345"));
        Fs.SetXattr("/f", "user." + new string('n', 250), []);
        Assert.Equal(5, Fs.GetXattr("/f", "user.k", Span<byte>.Empty));
        Fails(Errno.ERANGE, () => Fs.GetXattr("/f", "user.k", new byte[2]));
        Assert.Equal(263, Fs.ListXattr("/f", Span<byte>.Empty)); // kernel 6.18: "user.k\0" + 256-byte name
        Fails(Errno.ERANGE, () => Fs.ListXattr("/f", new byte[2]));
        var buf = new byte[263];
        Assert.Equal(263, Fs.ListXattr("/f", buf));
        Assert.Equal((byte)0, buf[6]);
    }

    [Theory]
    [InlineData("", Errno.ERANGE)]
    [InlineData("user.", Errno.EINVAL)]
    [InlineData("foo.x", Errno.EOPNOTSUPP)]
    [InlineData("system.x", Errno.EOPNOTSUPP)]
    public void BadNames(string name, Errno errno) => Fails(errno, () => Fs.SetXattr("/f", name, []));

    [Fact]
    public void NamesUpTo255Bytes()
    {
        Fs.SetXattr("/f", "user." + new string('n', 250), []);
        Fails(Errno.ERANGE, () => Fs.SetXattr("/f", "user." + new string('n', 251), []));
    }

    [Fact]
    public void ValuesUpTo64KiBElseE2BIGButABadNameComesFirst()
    {
        Fs.SetXattr("/f", "user.big", new byte[65536]);
        Fails(Errno.E2BIG, () => Fs.SetXattr("/f", "user.big2", new byte[65537]));
        Fails(Errno.ERANGE, () => Fs.SetXattr("/f", "user." + new string('n', 300), new byte[65537]));
    }

    [Fact]
    public void UserAttributesOnlyOnFilesAndDirectories()
    {
        // kernel 6.18: on a symlink (no follow) user.* set = EPERM, get = ENODATA; trusted.* works.
        Fails(Errno.EPERM, () => Fs.SetXattr("/lf", "user.x", Bytes("1"), follow: false));
        Fails(Errno.ENODATA, () => Fs.GetXattr("/lf", "user.x", follow: false));
        Fs.SetXattr("/lf", "trusted.x", Bytes("1"), follow: false);
        Assert.Equal(["trusted.x"], Fs.ListXattr("/lf", follow: false));
        Assert.Empty(Fs.ListXattr("/lf"));
    }

    [Fact]
    public void UserAttributesFollowFilePermissions()
    {
        Fails(Errno.EACCES, () => Fs.SetXattr("/f", "user.a", Bytes("1"), cred: Alice)); // 0644, not the owner
        Fs.SetXattr("/others", "user.a", Bytes("1"), cred: Alice);
        Fs.SetXattr("/secret", "user.a", Bytes("1"));
        Fails(Errno.EACCES, () => Fs.GetXattr("/secret", "user.a", Alice));
        Fails(Errno.EPERM, () => Fs.SetXattr("/sticky", "user.a", Bytes("1"), cred: Alice));
        Fs.SetXattr("/pub", "user.a", Bytes("1"), cred: Alice);
    }

    [Fact]
    public void TrustedAttributesAreForRootOnly()
    {
        Fs.SetXattr("/mine", "trusted.a", Bytes("1"));
        Fs.SetXattr("/mine", "user.u", Bytes("1"));
        Fails(Errno.EPERM, () => Fs.SetXattr("/mine", "trusted.b", Bytes("1"), cred: Alice));
        Fails(Errno.ENODATA, () => Fs.GetXattr("/mine", "trusted.a", Alice));
        Assert.Equal(["user.u"], Fs.ListXattr("/mine", Alice));
    }

    [Fact]
    public void SecurityAttributesNeedCapSysAdminToWriteButAnyoneReads()
    {
        // kernel 6.18 (no LSM loaded): uid 1000 setxattr security.a on its own file = EPERM;
        // getxattr of a 0600 root file's security.r = ok; removexattr = EPERM.
        Fails(Errno.EPERM, () => Fs.SetXattr("/mine", "security.a", Bytes("1"), cred: Alice));
        Fails(Errno.EPERM, () => Fs.SetXattr("/others", "security.a", Bytes("1"), cred: Alice));
        Fs.SetXattr("/mine", "security.r", Bytes("1"));
        Fs.SetXattr("/secret", "security.r", Bytes("1"));
        Assert.Equal(Bytes("1"), Fs.GetXattr("/secret", "security.r", Alice));
        Fails(Errno.ENODATA, () => Fs.GetXattr("/mine", "security.none", Alice));
        Fails(Errno.EPERM, () => Fs.RemoveXattr("/mine", "security.r", Alice));
    }

    [Fact]
    public void AttributesChargeInodeSpaceExactly()
    {
        // kernel 6.18, nr_inodes=3 (root + f leave 1024 bytes): 40 + len("user.a") + 978 = 1024 fits;
        // after that nothing more fits (ENOSPC), not even a new file; one byte more does not fit.
        using var memory = new MemoryManager(1 << 20);
        var fs = memory.Mount("nr_inodes=3");
        using (fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly))
        {
        }

        fs.SetXattr("/f", "user.a", new byte[1024 - 40 - 6]);
        Assert.Equal(Errno.ENOSPC, Err(() => fs.SetXattr("/f", "user.b", [])));
        Assert.Equal(Errno.ENOSPC, Err(() => fs.Open("/g", OpenFlags.Create | OpenFlags.WriteOnly).Dispose()));
        fs.RemoveXattr("/f", "user.a");
        Assert.Equal(Errno.ENOSPC, Err(() => fs.SetXattr("/f", "user.a", new byte[1024 - 40 - 6 + 1])));
        fs.SetXattr("/f", "user.a", new byte[1024 - 40 - 6 - 1]);

        // Replacing charges the new value before the old one is returned (kernel 6.18: ENOSPC).
        Assert.Equal(Errno.ENOSPC, Err(() => fs.SetXattr("/f", "user.a", new byte[1])));
        Assert.Equal(1024 - 40 - 6 - 1, fs.GetXattr("/f", "user.a").Length);
        Assert.Equal(0, fs.StatFs().FilesFree);
        fs.RemoveXattr("/f", "user.a");
        Assert.Equal(1, fs.StatFs().FilesFree);
        fs.Unmount();
    }

    [Fact]
    public void DeletingAFileReturnsItsAttributeSpace()
    {
        var free = Fs.StatFs().FilesFree;
        Create("/g");
        Fs.SetXattr("/g", "user.a", new byte[3000]);
        Assert.True(Fs.StatFs().FilesFree < free - 1);
        Fs.Unlink("/g");
        Assert.Equal(free, Fs.StatFs().FilesFree);
    }
}
