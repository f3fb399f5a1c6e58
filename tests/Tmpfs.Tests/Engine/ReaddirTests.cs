namespace Tmpfs.Tests.Engine;

public class ReaddirTests : EngineTest
{
    public ReaddirTests()
        : base("size=1M,nr_inodes=400")
    {
        Fs.Mkdir("/d", 0x1ED /* 0755 */);
    }

    [Fact]
    public void ListsDotDotDotThenEntriesInCreationOrderWithTypes()
    {
        Create("/d/b");
        Fs.Mkdir("/d/a", 0x1ED /* 0755 */);
        Fs.Symlink("x", "/d/c");
        using var h = Fs.OpenDirectory("/d");
        var all = h.Read(0, 100);
        Assert.Equal([".", "..", "b", "a", "c"], all.Select(e => e.Name));
        Assert.Equal(Fs.Stat("/d").Ino, all[0].Ino);
        Assert.Equal(Fs.Stat("/").Ino, all[1].Ino);
        Assert.Equal([FileModes.Directory, FileModes.Directory, FileModes.Regular, FileModes.Directory, FileModes.Symlink], all.Select(e => e.Type));
        Assert.Equal(Fs.Stat("/d/a").Ino, all[3].Ino);
        Assert.Equal(["a", "b", "c"], Names("/d"));
    }

    [Fact]
    public void RootsDotDotIsItself()
    {
        using var h = Fs.OpenDirectory("/");
        var e = h.Read(0, 2);
        Assert.Equal(e[0].Ino, e[1].Ino);
    }

    [Fact]
    public void ContinuesFromACookieInSmallBatches()
    {
        for (var i = 0; i < 50; i++)
        {
            Create($"/d/f{i}");
        }

        using var h = Fs.OpenDirectory("/d");
        var seen = new List<string>();
        long cookie = 0;
        while (true)
        {
            var batch = h.Read(cookie, 3);
            if (batch.Count == 0)
            {
                break;
            }

            seen.AddRange(batch.Select(e => e.Name));
            cookie = batch[^1].NextCookie;
        }

        Assert.Equal(52, seen.Count);
        Assert.Equal(52, seen.Distinct().Count());
    }

    [Fact]
    public void CookiesStayValidWhileTheDirectoryChanges()
    {
        for (var i = 0; i < 100; i++)
        {
            Create($"/d/f{i}");
        }

        using var h = Fs.OpenDirectory("/d");
        var seen = new List<string>();
        long cookie = 2; // skip "." and ".."
        var removed = new HashSet<string>();
        var added = new List<string>();
        var round = 0;
        while (true)
        {
            var batch = h.Read(cookie, 7);
            if (batch.Count == 0)
            {
                break;
            }

            seen.AddRange(batch.Select(e => e.Name));
            cookie = batch[^1].NextCookie;

            // Remove some entries not read yet and some read already; add new ones.
            round++;
            foreach (var n in new[] { $"f{(round * 13) % 100}", $"f{(round * 7) % 100}" })
            {
                if (!removed.Contains(n) && Exists("/d/" + n))
                {
                    Fs.Unlink("/d/" + n);
                    removed.Add(n);
                }
            }

            if (round < 20)
            {
                Create($"/d/new{round}");
                added.Add($"new{round}");
            }
        }

        Assert.Equal(seen.Count, seen.Distinct().Count()); // nothing repeats
        foreach (var n in seen.Where(n => removed.Contains(n)))
        {
            // A removed entry may have been read only before it was removed.
            Assert.Contains(n, seen);
        }

        var remaining = Names("/d");
        foreach (var n in remaining)
        {
            Assert.Contains(n, seen); // every entry that stayed was seen, new ones included
        }

        Assert.All(added, n => Assert.Contains(n, seen));
    }

    [Fact]
    public void ARemovedEntryIsNeverReturnedAfterItsRemoval()
    {
        for (var i = 0; i < 10; i++)
        {
            Create($"/d/f{i}");
        }

        using var h = Fs.OpenDirectory("/d");
        var first = h.Read(2, 3);
        Assert.Equal(["f0", "f1", "f2"], first.Select(e => e.Name));
        Fs.Unlink("/d/f3");
        Fs.Unlink("/d/f1");
        Create("/d/late");
        var rest = h.Read(first[^1].NextCookie, 100);
        Assert.Equal(["f4", "f5", "f6", "f7", "f8", "f9", "late"], rest.Select(e => e.Name));
    }

    [Fact]
    public void AReusedNameIsANewEntryAtTheEnd()
    {
        Create("/d/a");
        Create("/d/b");
        using var h = Fs.OpenDirectory("/d");
        var first = h.Read(2, 1);
        Fs.Unlink("/d/a");
        Create("/d/a");
        Assert.Equal(["b", "a"], h.Read(first[^1].NextCookie, 10).Select(e => e.Name));
    }

    [Fact]
    public void ManyRemovalsKeepCookiesValid()
    {
        for (var i = 0; i < 300; i++)
        {
            Create($"/d/f{i}");
        }

        using var h = Fs.OpenDirectory("/d");
        var first = h.Read(2, 150);
        for (var i = 0; i < 290; i++)
        {
            Fs.Unlink($"/d/f{i}");
        }

        Assert.Equal(Enumerable.Range(290, 10).Select(i => $"f{i}"), h.Read(first[^1].NextCookie, 100).Select(e => e.Name));
    }

    [Theory]
    [InlineData("/missing", Errno.ENOENT)]
    [InlineData("/f", Errno.ENOTDIR)]
    public void OpenDirectoryFails(string path, Errno errno)
    {
        Create("/f");
        Fails(errno, () => Fs.OpenDirectory(path));
    }

    [Fact]
    public void ClosedHandleIsEBADF()
    {
        var h = Fs.OpenDirectory("/d");
        h.Dispose();
        Assert.Equal(Errno.EBADF, Err(() => h.Read(0, 1)));
    }

    [Fact]
    public void OpenDirectoryNeedsReadPermission()
    {
        Fs.Chmod("/d", 0x149 /* 0511 */);
        Fails(Errno.EACCES, () => Fs.OpenDirectory("/d", Alice));
    }
}
