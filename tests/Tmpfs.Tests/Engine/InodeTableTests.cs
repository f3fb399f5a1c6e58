using Tmpfs.Shmem;

namespace Tmpfs.Tests.Engine;

/// <summary>The superblock's inode table against a dictionary: adds, finds, removes, growth and shrinking.</summary>
public class InodeTableTests : EngineTest
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MatchesADictionary(int seed)
    {
        var random = new Random(seed);
        var sb = Fs.Superblock;
        var table = new InodeTable();
        var model = new Dictionary<long, Inode>();
        long next = 1;
        for (var step = 0; step < 50_000; step++)
        {
            // Phases of growth and of shrinking, so both resizes happen many times.
            var grow = (step / 5_000) % 2 == 0;
            if (model.Count == 0 || random.Next(10) < (grow ? 7 : 3))
            {
                var inode = new Inode(sb, next++, 0, FileModes.Regular, 0, 0, 0);
                table.Add(inode);
                model.Add(inode.Ino, inode);
            }
            else
            {
                var ino = model.Keys.ElementAt(random.Next(model.Count));
                Assert.True(table.Remove(ino));
                model.Remove(ino);
                Assert.False(table.Remove(ino));
                Assert.Null(table.Find(ino));
            }

            var probe = random.NextInt64(0, next + 2);
            Assert.Same(model.GetValueOrDefault(probe), table.Find(probe));
            Assert.Equal(model.Count, table.Count);
            if (step % 1_000 == 0)
            {
                Assert.Equal(model.Keys.Order(), table.Snapshot().Select(i => i.Ino).Order());
                foreach (var (ino, inode) in model)
                {
                    Assert.Same(inode, table.Find(ino));
                }
            }
        }
    }
}
