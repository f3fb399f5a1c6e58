using Tmpfs.Shmem;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// Two operations released together, many rounds: each pair is a window the engine
/// must close with its locks. After every round the mount must pass the checker.
/// </summary>
public sealed class PairRaceTests
{
    private const int Rounds = 5000;

    /// <summary>setxattr resolves the path, then sets under the inode lock: an unlink in between must not leak ispace.</summary>
    [Fact]
    public void SetXattr_RacesUnlink()
    {
        RunPairs(
            "nr_inodes=100",
            setup: fs => fs.Open("/f", OpenFlags.Create | OpenFlags.WriteOnly).Dispose(),
            first: fs => fs.Unlink("/f"),
            second: fs => Tolerate(() => fs.SetXattr("/f", "user.k", new byte[100]), Errno.ENOENT));
    }

    /// <summary>linkat(AT_EMPTY_PATH) of an O_TMPFILE while the same handle is closed: never a name for an evicted inode.</summary>
    [Fact]
    public void LinkTmpfile_RacesItsClose()
    {
        FileHandle? tmp = null;
        RunPairs(
            "nr_inodes=100",
            setup: fs =>
            {
                Tolerate(() => fs.Unlink("/t"), Errno.ENOENT);
                tmp = fs.Open("/", OpenFlags.TmpFile | OpenFlags.ReadWrite, 0x180 /* 0600 */);
                tmp.Write(new byte[5000], 0);
            },
            first: _ => tmp!.Dispose(),
            second: fs =>
            {
                if (Tolerate(() => fs.LinkHandle(tmp!, "/t"), Errno.ENOENT, Errno.EBADF))
                {
                    using var again = fs.Open("/t", OpenFlags.ReadOnly);
                    var back = new byte[6000];
                    Assert.Equal(5000, again.Read(back, 0)); // its pages, not an evicted shell's
                }
            });
    }

    private static void RunPairs(string options, Action<FileSystem> setup, Action<FileSystem> first, Action<FileSystem> second)
    {
        using var memory = new MemoryManager(8L << 20);
        var fs = memory.Mount(options);
        using var barrier = new Barrier(2);
        var harness = new StressHarness(2);
        harness.Run(id =>
        {
            try
            {
                for (var round = 0; round < Rounds && harness.FailureCount == 0; round++)
                {
                    if (id == 0)
                    {
                        setup(fs);
                    }

                    barrier.SignalAndWait();
                    harness.Doing(id, $"round {round}");
                    (id == 0 ? first : second)(fs);
                    barrier.SignalAndWait();
                    if (id == 0)
                    {
                        foreach (var p in Fsck.Check(fs.Superblock))
                        {
                            harness.Fail(id, $"round {round}: {p}");
                        }
                    }

                    barrier.SignalAndWait();
                }
            }
            finally
            {
                barrier.RemoveParticipant(); // never leave the other worker waiting
            }
        });

        StressTests.AssertConsistent(memory, fs);
        StressTests.UnmountAndAssertFree(memory, fs);
    }

    private static bool Tolerate(Action action, params Errno[] allowed)
    {
        try
        {
            action();
            return true;
        }
        catch (TmpfsException e) when (Array.IndexOf(allowed, e.Errno) >= 0)
        {
            return false;
        }
    }
}
