namespace Tmpfs.Tests.Engine;

/// <summary>The node API: the same operations by inode number, and lookup counts (FUSE nlookup).</summary>
public class NodeOperationsTests : EngineTest
{
    private NodeOperations Nodes => Fs.Nodes;

    [Fact]
    public void RootIsNodeOne()
    {
        Assert.Equal(NodeOperations.RootId, Fs.Stat("/").Ino);
        Assert.True(Nodes.GetAttributes(NodeOperations.RootId).IsDirectory);
    }

    [Fact]
    public void EntriesTakeLookupsAndForgetGivesThemBack()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1ED, Credentials.Root);
        Assert.Equal(1, Nodes.LookupCount(d.Ino));
        Assert.Equal(d.Ino, Nodes.Lookup(NodeOperations.RootId, "d", Credentials.Root).Ino);
        Assert.Equal(2, Nodes.LookupCount(d.Ino));
        Assert.Equal(d.Ino, Nodes.Lookup(d.Ino, ".", Credentials.Root).Ino);
        Assert.Equal(NodeOperations.RootId, Nodes.Lookup(d.Ino, "..", Credentials.Root).Ino);
        Nodes.Forget(d.Ino, 3);
        Assert.Equal(0, Nodes.LookupCount(d.Ino));
        Assert.True(Fs.Stat("/d").IsDirectory); // a name still keeps it
    }

    [Fact]
    public void AnUnlinkedInodeLivesUntilItsLastLookupIsForgotten()
    {
        using (var h = Nodes.Create(NodeOperations.RootId, "f", OpenFlags.ReadWrite, 0x1A4, Alice, out var entry))
        {
            h.Write(Bytes("data"), 0);
            Nodes.Unlink(NodeOperations.RootId, "f", Credentials.Root);
            Assert.Equal(0u, Nodes.GetAttributes(entry.Ino).Nlink);
            h.Dispose();

            // Closed and unlinked, but the kernel still holds a lookup: GETATTR must work.
            Assert.Equal(4, Nodes.GetAttributes(entry.Ino).Size);
            Assert.Equal(2, Fs.UsedInodes);
            Nodes.Forget(entry.Ino, 1);
            Assert.Equal(1, Fs.UsedInodes);
            Fails(Errno.ENOENT, () => Nodes.GetAttributes(entry.Ino));
        }

        Assert.Equal(0, Fs.UsedBytes);
    }

    [Fact]
    public void ForgetWhileOpenLeavesEvictionToTheClose()
    {
        var h = Nodes.Create(NodeOperations.RootId, "f", OpenFlags.ReadWrite, 0x1A4, Alice, out var entry);
        Nodes.Unlink(NodeOperations.RootId, "f", Credentials.Root);
        Nodes.Forget(entry.Ino, 1);
        Assert.Equal(2, Fs.UsedInodes);
        h.Dispose();
        Assert.Equal(1, Fs.UsedInodes);
    }

    [Fact]
    public void NodeCallsCheckPermissionsAsPathCallsDo()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1C0 /* 0700 */, Credentials.Root);
        Fails(Errno.EACCES, () => Nodes.Lookup(d.Ino, "x", Bob));
        Fails(Errno.EACCES, () => Nodes.Mkdir(d.Ino, "x", 0x1ED, Bob));
        Fails(Errno.EACCES, () => Nodes.OpenDirectory(d.Ino, Bob));
        Fails(Errno.ENOENT, () => Nodes.Lookup(d.Ino, "x", Credentials.Root));
        Fails(Errno.EEXIST, () => Nodes.Mkdir(NodeOperations.RootId, "d", 0x1ED, Credentials.Root));
        var link = Nodes.Symlink(NodeOperations.RootId, "l", "d", Credentials.Root);
        Fails(Errno.ENOTDIR, () => Nodes.Lookup(link.Ino, "x", Credentials.Root));
        Fails(Errno.EINVAL, () => Nodes.Mkdir(NodeOperations.RootId, "a/b", 0x1ED, Credentials.Root));
        Fails(Errno.ENAMETOOLONG, () => Nodes.Mkdir(NodeOperations.RootId, new string('n', 256), 0x1ED, Credentials.Root));
        Nodes.Mknod(d.Ino, "f", FileModes.Regular | 0x1A4, 0, Credentials.Root);
        Fails(Errno.ENOTEMPTY, () => Nodes.Rmdir(NodeOperations.RootId, "d", Credentials.Root));
    }

    [Fact]
    public void NewFilesAreOwnedByTheCallerWithSetGidInheritance()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "g", 0x3FF | FileModes.SetGid, Credentials.Root);
        Nodes.SetAttributes(d.Ino, new AttributeChanges { Gid = 77, Mode = 0x1FF | FileModes.SetGid }, Credentials.Root);
        using var h = Nodes.Create(d.Ino, "f", OpenFlags.WriteOnly, 0x1A4, Alice, out var f);
        Assert.Equal(1000u, f.Uid);
        Assert.Equal(77u, f.Gid);
        Assert.True((Nodes.Mkdir(d.Ino, "sub", 0x1ED, Alice).Mode & FileModes.SetGid) != 0);
    }

    [Fact]
    public void SetAttributesAppliesEachChangeWithItsChecks()
    {
        using var h = Nodes.Create(NodeOperations.RootId, "f", OpenFlags.ReadWrite, 0x1A4, Alice, out var f);
        var s = Nodes.SetAttributes(f.Ino, new AttributeChanges { Mode = 0x180, Size = 10, Mtime = new Timespec(5, 6) }, Alice);
        Assert.Equal(FileModes.Regular | 0x180, s.Mode);
        Assert.Equal(10, s.Size);
        Assert.Equal(new Timespec(5, 6), s.Mtime);
        Fails(Errno.EPERM, () => Nodes.SetAttributes(f.Ino, new AttributeChanges { Mode = 0x1FF }, Bob));
        Fails(Errno.EACCES, () => Nodes.SetAttributes(f.Ino, new AttributeChanges { Size = 0 }, Bob));
        Assert.Equal(3, Nodes.SetAttributes(f.Ino, new AttributeChanges { Size = 3 }, Bob, h).Size); // ftruncate: the handle decides
    }

    [Fact]
    public void ReaddirPlusCountsOnlyTheEntriesAccepted()
    {
        var a = Nodes.Mknod(NodeOperations.RootId, "a", FileModes.Regular | 0x1A4, 0, Credentials.Root);
        var b = Nodes.Mknod(NodeOperations.RootId, "b", FileModes.Regular | 0x1A4, 0, Credentials.Root);
        Nodes.Forget(a.Ino, 1);
        Nodes.Forget(b.Ino, 1);
        using var dir = Nodes.OpenDirectory(NodeOperations.RootId, Credentials.Root);
        var seen = new List<(string, long)>();
        var accepted = Nodes.ReadDirectory(dir, 0, plus: true, (in DirectoryEntry e, in StatInfo s) =>
        {
            if (seen.Count == 3)
            {
                return false;
            }

            seen.Add((e.Name, s.Ino));
            return true;
        });
        Assert.Equal(3, accepted);
        Assert.Equal([(".", NodeOperations.RootId), ("..", NodeOperations.RootId), ("a", a.Ino)], seen);
        Assert.Equal(1, Nodes.LookupCount(a.Ino));
        Assert.Equal(0, Nodes.LookupCount(b.Ino));
    }

    [Fact]
    public void RenameAndLinkByNode()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1ED, Credentials.Root);
        var f = Nodes.Mknod(NodeOperations.RootId, "f", FileModes.Regular | 0x1A4, 0, Credentials.Root);
        Nodes.Rename(NodeOperations.RootId, "f", d.Ino, "g", RenameFlags.None, Credentials.Root);
        Assert.Equal(f.Ino, Fs.Stat("/d/g").Ino);
        Assert.Equal(2u, Nodes.Link(f.Ino, NodeOperations.RootId, "h", Credentials.Root).Nlink);
        Fails(Errno.EEXIST, () => Nodes.Rename(NodeOperations.RootId, "h", d.Ino, "g", RenameFlags.NoReplace, Credentials.Root));
        Fails(Errno.EPERM, () => Nodes.Link(d.Ino, NodeOperations.RootId, "dl", Credentials.Root));
    }
}
