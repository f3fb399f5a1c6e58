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
                batch.Add(NewInode(ino++));
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
        Assert.Same(keep, table.Find(keep.Ino));
        Assert.True(table.LiveChunks <= 1, $"{table.LiveChunks} chunks held for one live inode and the newest numbers");
    }

    [Fact]
    public void CreateAndDeleteChurnAllocatesAlmostNothing()
    {
        // One create and one unlink after the other, nothing else alive near the newest
        // numbers: the newest chunk stays, so only a chunk per 1024 numbers is allocated.
        var table = new InodeTable();
        var inodes = Enumerable.Range(0, 5000).Select(i => NewInode(1000 + i)).ToArray();
        table.Add(inodes[0]);
        table.Remove(inodes[0]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var inode in inodes.AsSpan(1))
        {
            table.Add(inode);
            table.Remove(inode);
        }

        var perPair = (GC.GetAllocatedBytesForCurrentThread() - before) / (inodes.Length - 1.0);
        Assert.True(perPair < 64, $"{perPair:F0} bytes allocated per create and unlink");
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void AFewInodesKeptAmongManyDeletedCostNoChunkEach()
    {
        // One file in 100 kept over 100,000 numbers: the chunks behind the newest go to the
        // dictionary, so memory follows the 1,000 live inodes, not the numbers used.
        var table = new InodeTable();
        var kept = new List<Inode>();
        for (var ino = 10L; ino < 100_010; ino++)
        {
            var inode = NewInode(ino);
            table.Add(inode);
            if (ino % 100 == 0)
            {
                kept.Add(inode);
            }
            else
            {
                table.Remove(inode);
            }
        }

        Assert.Equal(kept.Count, table.Count);
        Assert.True(table.LiveChunks <= 2, $"{table.LiveChunks} chunks held for {kept.Count} sparse inodes");
        Assert.True(table.SparseCount >= kept.Count - 2 * 11, "the sparse inodes are not in the dictionary");
        foreach (var inode in kept)
        {
            Assert.Same(inode, table.Find(inode.Ino));
        }

        Assert.Equal(kept.Select(i => i.Ino), table.ToList().Select(i => i.Ino));
        foreach (var inode in kept)
        {
            table.Remove(inode);
        }

        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.SparseCount);
    }

    private Inode NewInode(long ino) => new(Fs.Superblock, ino, 0, FileModes.Regular | 0x1A4, 0, 0, 0);
}
