namespace Tmpfs.Tests.Engine;

/// <summary>TryLookup and TryGetXattr: a miss is an answer (no throw, no lookup taken); every other error is as before.</summary>
public class NodeOperationsTryTests : EngineTest
{
    private NodeOperations Nodes => Fs.Nodes;

    [Fact]
    public void TryLookupFindsWhatLookupFindsAndTakesALookup()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1ED, Credentials.Root);
        Assert.True(Nodes.TryLookup(NodeOperations.RootId, "d", Credentials.Root, out var e));
        Assert.Equal(d.Ino, e.Ino);
        Assert.Equal(2, Nodes.LookupCount(d.Ino));
        Assert.True(Nodes.TryLookup(d.Ino, ".", Credentials.Root, out e));
        Assert.Equal(d.Ino, e.Ino);
        Assert.True(Nodes.TryLookup(d.Ino, "..", Credentials.Root, out e));
        Assert.Equal(NodeOperations.RootId, e.Ino);
    }

    [Fact]
    public void TryLookupOfAMissingNameIsFalse()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1ED, Credentials.Root);
        Assert.False(Nodes.TryLookup(d.Ino, "nope", Credentials.Root, out var e));
        Assert.Equal(0, e.Ino);
        Assert.Equal(1, Nodes.LookupCount(d.Ino));
    }

    [Fact]
    public void TryLookupKeepsTheOtherErrors()
    {
        var d = Nodes.Mkdir(NodeOperations.RootId, "d", 0x1C0 /* 0700 */, Credentials.Root);
        Create("/f");
        var f = Fs.Stat("/f").Ino;
        Assert.Equal(Errno.EACCES, Err(() => Nodes.TryLookup(d.Ino, "x", Alice, out _)));
        Assert.Equal(Errno.ENOTDIR, Err(() => Nodes.TryLookup(f, "x", Credentials.Root, out _)));
        Assert.Equal(Errno.ENAMETOOLONG, Err(() => Nodes.TryLookup(d.Ino, new string('n', 256), Credentials.Root, out _)));
    }

    [Fact]
    public void TryGetXattrOfAMissingAttributeIsMinusOne()
    {
        Create("/f");
        var f = Fs.Stat("/f").Ino;
        Assert.Equal(-1, Nodes.TryGetXattr(f, "security.selinux", new byte[16], Credentials.Root));
        Assert.Equal(-1, Nodes.TryGetXattr(f, "user.x", [], Credentials.Root));
        Assert.Equal(Errno.ENODATA, Err(() => Nodes.GetXattr(f, "user.x", [], Credentials.Root)));
        Nodes.SetXattr(f, "user.x", Bytes("value"), XattrFlags.None, Credentials.Root);
        Assert.Equal(5, Nodes.TryGetXattr(f, "user.x", [], Credentials.Root));
        Assert.Equal(Errno.ERANGE, Err(() => Nodes.TryGetXattr(f, "user.x", new byte[2], Credentials.Root)));
        Assert.Equal(Errno.EOPNOTSUPP, Err(() => Nodes.TryGetXattr(f, "bogus.x", [], Credentials.Root)));
    }
}
