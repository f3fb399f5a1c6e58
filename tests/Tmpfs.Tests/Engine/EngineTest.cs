using System.Text;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Engine;

/// <summary>A clock the tests move by hand, so timestamps are exact and no test depends on timing.</summary>
public sealed class ManualClock : TimeProvider
{
    private long ns = 1_700_000_000L * 1_000_000_000L;

    public long NowNs => Interlocked.Read(ref ns);

    public Timespec Now => Timespec.FromNanoseconds(NowNs);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(NowNs / 100);

    /// <summary>Moves the clock on by <paramref name="seconds"/> (a whole number of ticks).</summary>
    public void Advance(int seconds = 1) => Interlocked.Add(ref ns, seconds * 1_000_000_000L);
}

/// <summary>
/// One memory budget and one mount per test, with helpers. Expected errnos were checked on
/// Linux 6.18 (tmpfs mounted with size=1M,nr_inodes=16..200, python3 os.* and ctypes calls,
/// non-root cases under setpriv --reuid=1000 --regid=1000 --clear-groups).
/// </summary>
public abstract class EngineTest : IDisposable
{
    protected static readonly Credentials Alice = new(1000, 1000);
    protected static readonly Credentials Bob = new(2000, 2000);

    private readonly List<IDisposable> handles = [];

    protected EngineTest(string options = "size=1M,nr_inodes=64", long budget = 8L << 20)
    {
        Memory = new MemoryManager(budget, Clock);
        Fs = Memory.Mount(options);
    }

    protected ManualClock Clock { get; } = new();

    protected MemoryManager Memory { get; }

    protected FileSystem Fs { get; }

    public void Dispose()
    {
        foreach (var h in handles)
        {
            h.Dispose();
        }

        foreach (var m in Memory.Mounts)
        {
            m.Unmount(detach: true);
        }

        Memory.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static Errno Err(Action action) => Assert.Throws<TmpfsException>(action).Errno;

    /// <summary>Asserts the call fails with <paramref name="errno"/> and changes nothing on the mount (times included).</summary>
    protected void Fails(Errno errno, Action action)
    {
        var before = Snapshot();
        Clock.Advance();
        var e = Assert.Throws<TmpfsException>(action);
        Assert.Equal(errno, e.Errno);
        Assert.Equal(before, Snapshot());
    }

    protected T Track<T>(T handle)
        where T : IDisposable
    {
        handles.Add(handle);
        return handle;
    }

    protected FileHandle Open(string path, OpenFlags flags = OpenFlags.ReadWrite, int mode = 0x1A4 /* 0644 */, Credentials? cred = null) =>
        Track(Fs.Open(path, flags, mode, cred));

    protected void Create(string path, string content = "", int mode = 0x1A4 /* 0644 */, Credentials? cred = null)
    {
        using var h = Fs.Open(path, OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.WriteOnly, mode, cred);
        h.Write(Encoding.UTF8.GetBytes(content), 0);
    }

    protected string ReadText(string path, Credentials? cred = null)
    {
        using var h = Fs.Open(path, OpenFlags.ReadOnly, cred: cred);
        var buf = new byte[h.Stat().Size];
        var n = h.Read(buf, 0);
        return Encoding.UTF8.GetString(buf, 0, n);
    }

    protected static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    protected bool Exists(string path) => Try(() => Fs.Stat(path, follow: false));

    protected static bool Try(Action a)
    {
        try
        {
            a();
            return true;
        }
        catch (TmpfsException)
        {
            return false;
        }
    }

    protected string[] Names(string dir) => [.. Fs.ReadDirectory(dir).Select(e => e.Name).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Everything observable of the mount, read from the inside so that taking it changes
    /// no atime: every inode's attributes, names, data and xattrs, and the accounting.
    /// </summary>
    protected string Snapshot()
    {
        var sb = Fs.Superblock;
        var text = new StringBuilder();
        text.Append($"blocks={sb.UsedBlocks} ispace={sb.UsedIspace} inodes={sb.UsedInodes} free={Memory.FreeBytes} shmem={Memory.ShmemBytes}\n");
        foreach (var inode in sb.SnapshotInodes().OrderBy(i => i.Ino))
        {
            lock (inode)
            {
                text.Append($"{inode.Ino}: {inode.ToStat()} alloced={inode.Alloced}");
                if (inode.Dir is { } dir)
                {
                    text.Append(" [");
                    foreach (var e in dir.Entries.OrderBy(e => e.Name, StringComparer.Ordinal))
                    {
                        text.Append($"{e.Name}={e.Inode.Ino} ");
                    }

                    text.Append(']');
                }

                if (inode.LinkTarget is { } t)
                {
                    text.Append($" -> {t}");
                }

                if (inode.IsRegular && inode.Size < 1 << 20)
                {
                    var data = new byte[inode.Size];
                    PageCache.Read(inode, 0, data);
                    text.Append($" data={Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data))}");
                }

                if (inode.Xattrs is { } xs)
                {
                    foreach (var (k, v) in xs.Items)
                    {
                        text.Append($" {k}={Convert.ToHexString(v)}");
                    }
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }
}
