namespace Tmpfs.Tests.Engine;

/// <summary>Non-root callers; each expectation was checked on kernel 6.18 as uid 1000 (no supplementary groups).</summary>
public class PermissionTests : EngineTest
{
    public PermissionTests()
    {
        Fs.Mkdir("/sticky", 0x3FF /* 01777 */);
        Fs.Mkdir("/sticky/rootdir", 0x1FF /* 0777 */);
        Create("/sticky/rootf", string.Empty, 0x1B6 /* 0666 */);
        Fs.Mkdir("/pub", 0x1FF /* 0777 */);
        Create("/pub/rootf", string.Empty, 0x1B6 /* 0666 */);
        Fs.Mkdir("/ro", 0x16D /* 0555 */);
        Fs.Mkdir("/nox", 0x1B6 /* 0666 */);
        Create("/nox/f");
        Create("/secret", "s", 0x180 /* 0600 */);
        Fs.Mkdir("/sg", 0x1FF /* 0777 */);
        Fs.Chown("/sg", 0, 50);
        Fs.Chmod("/sg", 0x5FF /* 02777 */);
    }

    [Fact]
    public void StickyDirectoryProtectsOthersEntriesWithEPERM()
    {
        Fails(Errno.EPERM, () => Fs.Unlink("/sticky/rootf", Alice));
        Fails(Errno.EPERM, () => Fs.Rmdir("/sticky/rootdir", Alice));
        Fails(Errno.EPERM, () => Fs.Rename("/sticky/rootf", "/sticky/x", cred: Alice));
        Create("/sticky/mine", cred: Alice);
        Fails(Errno.EPERM, () => Fs.Rename("/sticky/mine", "/sticky/rootf", cred: Alice));
        Fs.Unlink("/sticky/mine", Alice);
    }

    [Fact]
    public void StickyDirectoryOwnerAndRootMayRemove()
    {
        Fs.Mkdir("/adir", 0x3FF /* 01777 */);
        Fs.Chown("/adir", 1000, 1000);
        Create("/adir/bobs", cred: Bob);
        Fs.Unlink("/adir/bobs", Alice); // the directory's owner
        Create("/adir/bobs2", cred: Bob);
        Fs.Unlink("/adir/bobs2"); // root
    }

    [Fact]
    public void WritableDirectoryLetsAnyoneRemove() => Fs.Unlink("/pub/rootf", Alice);

    [Fact]
    public void CreateNeedsWriteAndSearchOnTheDirectory()
    {
        Fails(Errno.EACCES, () => Fs.Open("/ro/x", OpenFlags.Create | OpenFlags.WriteOnly, cred: Alice));
        Fails(Errno.EACCES, () => Fs.Mkdir("/ro/x", 0x1ED /* 0755 */, Alice));
        Fails(Errno.EACCES, () => Fs.Symlink("t", "/ro/x", Alice));
        Fails(Errno.EACCES, () => Fs.Mknod("/ro/x", FileModes.Fifo | 0x1A4 /* 0644 */, cred: Alice));
        Fails(Errno.EEXIST, () => Fs.Mkdir("/ro", 0x1ED /* 0755 */, Alice)); // EEXIST before EACCES
        Fails(Errno.EEXIST, () => Fs.Mkdir("/ro/.", 0x1ED /* 0755 */, Alice));
    }

    [Fact]
    public void LookupNeedsSearchPermission()
    {
        Fails(Errno.EACCES, () => Fs.Stat("/nox/f", Alice));
        Fails(Errno.EACCES, () => Fs.Stat("/nox/missing", Alice));
        Assert.Equal(["f"], Fs.ReadDirectory("/nox", Alice).Select(e => e.Name)); // read without search works
    }

    [Fact]
    public void ModeBitsForOwnerGroupAndOthers()
    {
        Fails(Errno.EACCES, () => Fs.Open("/secret", OpenFlags.ReadOnly, cred: Alice));
        Fails(Errno.EACCES, () => Fs.Access("/secret", AccessMode.Read, Alice));
        Fs.Access("/secret", AccessMode.Exists, Alice);
        using (Fs.Open("/secret", OpenFlags.Path, cred: Alice))
        {
        }

        Fs.Chown("/secret", 3000, 1000);
        Fs.Chmod("/secret", 0x020 /* 0040 */);
        Fs.Access("/secret", AccessMode.Read, Alice); // group read
        Fs.Chown("/secret", 1000, 1000);
        Fails(Errno.EACCES, () => Fs.Access("/secret", AccessMode.Read, Alice)); // the owner class decides alone
    }

    [Fact]
    public void RootOverridesAllButExecuteOfANonExecutable()
    {
        // kernel 6.18: root access(X_OK) on a 0600 file is false, on a 0755 one true; a 0666 directory is searchable.
        Fs.Chmod("/secret", 0);
        Assert.Equal("s", ReadText("/secret"));
        Fails(Errno.EACCES, () => Fs.Access("/secret", AccessMode.Execute));
        Fs.Chmod("/secret", 0x1 /* 0001 */);
        Fs.Access("/secret", AccessMode.Execute);
        Fs.Access("/nox", AccessMode.Execute);
        Assert.True(Fs.Stat("/nox/f").IsRegular);
    }

    [Fact]
    public void SetGidDirectoryHandsDownItsGroup()
    {
        // kernel 6.18: in a 02777 root:50 directory uid 1000 creates a file of group 50 and a
        // subdirectory of group 50 with set-gid (042755).
        Create("/sg/f", cred: Alice);
        Assert.Equal(50u, Fs.Stat("/sg/f").Gid);
        var d = Fs.Mkdir("/sg/d", 0x1ED /* 0755 */, Alice);
        Assert.Equal(50u, d.Gid);
        Assert.Equal(FileModes.Directory | 0x5ED /* 02755 */, d.Mode);
    }

    [Fact]
    public void SetGidOnANewExecutableIsStrippedOutsideTheGroup()
    {
        // kernel 6.18: uid 1000 creating 02755 in the root:50 set-gid dir gets 0755; 02644 stays;
        // a member of group 50 keeps 02755.
        Create("/sg/sx", mode: 0x5ED /* 02755 */, cred: Alice);
        Assert.Equal(0x1ED, Fs.Stat("/sg/sx").Mode & FileModes.PermissionMask);
        Create("/sg/snx", mode: 0x5A4 /* 02644 */, cred: Alice);
        Assert.Equal(0x5A4, Fs.Stat("/sg/snx").Mode & FileModes.PermissionMask);
        Create("/sg/sx2", mode: 0x5ED /* 02755 */, cred: new Credentials(1000, 1000, [50]));
        Assert.Equal(0x5ED, Fs.Stat("/sg/sx2").Mode & FileModes.PermissionMask);
    }

    [Fact]
    public void ProtectedHardlinks()
    {
        // fs.protected_hardlinks=1: a non-owner may link only a regular file it can read and write.
        Create("/pub/others_ro", cred: Bob);
        Create("/pub/others_rw", mode: 0x1B6 /* 0666 */, cred: Bob);
        Fails(Errno.EPERM, () => Fs.Link("/pub/others_ro", "/pub/l1", Alice));
        Fs.Link("/pub/others_rw", "/pub/l2", Alice);
    }

    [Fact]
    public void MovingADirectoryToAnotherParentNeedsWriteOnIt()
    {
        // kernel 6.18: uid 1000 renaming its own 0555 directory from pub to sg is EACCES ("..").
        Fs.Mkdir("/pub/x", 0x16D /* 0555 */, Alice);
        Fails(Errno.EACCES, () => Fs.Rename("/pub/x", "/sg/x", cred: Alice));
        Fs.Rename("/pub/x", "/pub/y", cred: Alice); // same parent: fine
    }

    [Fact]
    public void OpenForWritingNeedsWritePermission()
    {
        Create("/pub/bobs", mode: 0x1A4 /* 0644 */, cred: Bob);
        Fails(Errno.EACCES, () => Fs.Open("/pub/bobs", OpenFlags.WriteOnly, cred: Alice));
        Fails(Errno.EACCES, () => Fs.Open("/pub/bobs", OpenFlags.ReadOnly | OpenFlags.Truncate, cred: Alice));
        using (Fs.Open("/pub/bobs", OpenFlags.ReadOnly, cred: Alice))
        {
        }
    }

    [Fact]
    public void ANewlyCreatedFileOpensWhateverItsMode()
    {
        // may_open is skipped for a file created by this open: O_CREAT|O_RDWR with mode 0 works.
        using var h = Fs.Open("/pub/zero", OpenFlags.Create | OpenFlags.ReadWrite, 0, Alice);
        h.Write(Bytes("x"), 0);
        Fails(Errno.EACCES, () => Fs.Open("/pub/zero", OpenFlags.ReadOnly, cred: Alice));
    }
}
