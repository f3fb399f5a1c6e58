using Tmpfs.Shmem;

namespace Tmpfs.Tests.Engine;

/// <summary>
/// The superblock's inode table (numbers to live inodes): every inode a mount creates can be
/// found by number until it is evicted, any other number finds nothing, and churn does not
/// make it grow with the numbers used.
/// </summary>
public class InodeTableTests : EngineTest
{
    public InodeTableTests()
        : base("size=1M,nr_inodes=0")
    {
    }

    [Fact]
    public void InodesAreFoundByNumberUntilEvictedAndOtherNumbersFindNothing()
    {
        var sb = Fs.Superblock;
        var inos = new List<long>();
        for (var i = 0; i < 3000; i++)
        {
            Fs.Mknod($"/f{i}", FileModes.Regular | 0x1A4, 0);
            inos.Add(Fs.Stat($"/f{i}").Ino);
        }

        Assert.Equal(3001, sb.UsedInodes); // the root too
        foreach (var ino in inos)
        {
            Assert.Equal(ino, sb.FindInode(ino)!.Ino);
        }

        for (var i = 0; i < 3000; i += 2)
        {
            Fs.Unlink($"/f{i}");
        }

        for (var i = 0; i < 3000; i++)
        {
            Assert.Equal(i % 2 == 1, sb.FindInode(inos[i]) is not null);
        }

        Assert.Equal(1501, sb.UsedInodes);
        Assert.Equal(1501, sb.SnapshotInodes().Count);
        foreach (var ino in new[] { 0L, -1L, long.MinValue, long.MaxValue, inos[^1] + 1, 1L << 40 })
        {
            Assert.Null(sb.FindInode(ino));
        }

        Assert.Equal(NodeOperations.RootId, sb.FindInode(NodeOperations.RootId)!.Ino);
    }

    [Fact]
    public void ChurnReleasesTheChunksOfNumbersNoLongerLive()
    {
        var table = new InodeTable();
        var sb = Fs.Superblock;
        var keep = sb.FindInode(NodeOperations.RootId)!;
        table.Add(keep);
        var ino = 100L;
        for (var round = 0; round < 20; round++)
        {
            var batch = new List<Inode>();
            for (var i = 0; i < 1000; i++)
            {
                batch.Add(new Inode(sb, ino++, 0, FileModes.Regular | 0x1A4, 0, 0, 0));
            }

            foreach (var inode in batch)
            {
                table.Add(inode);
            }

            foreach (var inode in batch)
            {
                Assert.Same(inode, table.Find(inode.Ino));
                table.Remove(inode);
                Assert.Null(table.Find(inode.Ino));
            }
        }

        Assert.Equal(1, table.Count);
        Assert.Same(keep, Assert.Single(table.ToList()));
        Assert.Equal(1, table.LiveChunks);
    }
}
