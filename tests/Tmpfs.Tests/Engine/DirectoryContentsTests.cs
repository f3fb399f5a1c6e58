using Tmpfs.Shmem;

namespace Tmpfs.Tests.Engine;

/// <summary>
/// A directory's entries against a plain model: names, cookies in creation order,
/// tombstones and compaction, seeking by cookie after entries came and went.
/// </summary>
public class DirectoryContentsTests : EngineTest
{
    public DirectoryContentsTests()
        : base("size=1M,nr_inodes=4000")
    {
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MatchesAModelThroughAddsRemovesReplacesAndCompactions(int seed)
    {
        var random = new Random(seed);
        var sb = Fs.Superblock;
        var dir = sb.Root;
        var contents = new DirectoryContents(dir);
        var inodes = Enumerable.Range(0, 8).Select(_ => sb.NewInode(FileModes.Regular | 0x1A4, 0, 0)).ToArray();
        var model = new Dictionary<string, (Inode Inode, long Cookie)>(StringComparer.Ordinal);
        var next = DirectoryContents.FirstCookie;
        for (var step = 0; step < 20_000; step++)
        {
            // Names from a small space, so that removed names come back (as new entries).
            var name = $"n{random.Next(random.Next(2) == 0 ? 16 : 600)}";
            var op = random.Next(10);
            if (model.ContainsKey(name))
            {
                if (op < 6)
                {
                    Assert.Same(model[name].Inode, contents.Remove(name));
                    model.Remove(name);
                }
                else
                {
                    var to = inodes[random.Next(inodes.Length)];
                    contents.Replace(name, to);
                    model[name] = (to, model[name].Cookie);
                }
            }
            else if (op < 7)
            {
                var inode = inodes[random.Next(inodes.Length)];
                contents.Add(name, inode);
                model[name] = (inode, next++);
            }

            Assert.Same(model.GetValueOrDefault(name).Inode, contents.Lookup(name));
            Assert.Same(model.GetValueOrDefault(name).Inode, contents.Lookup(name.AsSpan()));
            if (step % 500 == 0)
            {
                Check(contents, model, random);
            }
        }

        Check(contents, model, random);
        foreach (var name in model.Keys.ToList())
        {
            contents.Remove(name);
        }

        Assert.Equal(0, contents.Count);
        Assert.Empty(contents.Entries);
        Assert.Null(contents.Lookup("n1"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RemovingFromEitherEndKeepsCookiesAndSeeks(bool newestFirst)
    {
        // Names removed oldest first (or newest first) move the array's ends instead of
        // compacting; an emptied directory starts its array over with cookies still growing.
        var random = new Random(newestFirst ? 11 : 10);
        var sb = Fs.Superblock;
        var contents = new DirectoryContents(sb.Root);
        var inode = sb.NewInode(FileModes.Regular | 0x1A4, 0, 0);
        var model = new Dictionary<string, (Inode Inode, long Cookie)>(StringComparer.Ordinal);
        var next = DirectoryContents.FirstCookie;
        for (var round = 0; round < 3; round++)
        {
            var names = Enumerable.Range(0, 300).Select(i => $"r{round}-{i}").ToList();
            foreach (var name in names)
            {
                contents.Add(name, inode);
                model[name] = (inode, next++);
            }

            if (newestFirst)
            {
                names.Reverse();
            }

            // Remove all but a few, one from the middle now and then, checking as it goes.
            for (var i = 0; i < names.Count - 5; i++)
            {
                var name = i % 50 == 25 ? names[names.Count - 10 - (i / 50)] : names[i];
                if (model.Remove(name))
                {
                    Assert.Same(inode, contents.Remove(name));
                }

                if (i % 20 == 0)
                {
                    Check(contents, model, random);
                }
            }

            Check(contents, model, random);
            if (round == 1)
            {
                foreach (var name in model.Keys.ToList())
                {
                    contents.Remove(name);
                    model.Remove(name);
                }

                Check(contents, model, random);
                Assert.Equal(0, contents.PositionCount);
            }
        }
    }

    private static void Check(DirectoryContents contents, Dictionary<string, (Inode Inode, long Cookie)> model, Random random)
    {
        Assert.Equal(model.Count, contents.Count);
        var expected = model.OrderBy(p => p.Value.Cookie).Select(p => (p.Key, p.Value.Inode, p.Value.Cookie)).ToList();
        Assert.Equal(expected, contents.Entries.OrderBy(e => e.Cookie).Select(e => (e.Name, e.Inode, e.Cookie)).ToList());
        foreach (var (name, _, cookie) in expected)
        {
            Assert.Equal(new DirEntry(name, model[name].Inode, cookie), contents.LookupEntry(name));
        }

        // A readdir resumed at any cookie sees exactly the live entries from that cookie on.
        var from = expected.Count == 0 ? DirectoryContents.FirstCookie : expected[random.Next(expected.Count)].Cookie + random.Next(-1, 2);
        var seen = new List<long>();
        for (var at = contents.SeekPosition(from); at < contents.PositionCount; at++)
        {
            if (contents.EntryAt(at) is { } e)
            {
                seen.Add(e.Cookie);
            }
        }

        Assert.Equal(expected.Select(x => x.Cookie).Where(c => c >= from), seen);
    }
}
