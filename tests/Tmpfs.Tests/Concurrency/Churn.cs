namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// One worker's random mix of namespace and data operations on shared directories
/// (/d0../d3, with subdirectories s0..s2 two levels deep and names n0..n5 in each).
/// Names collide on purpose, so most failures are races the kernel also reports:
/// only a <see cref="TmpfsException"/> with an errno the call may return is tolerated.
/// </summary>
internal sealed class Churn : IDisposable
{
    public const int TopDirs = 4;

    private static readonly Errno[] Namespace =
    [
        Errno.ENOENT, Errno.EEXIST, Errno.ENOTDIR, Errno.EISDIR, Errno.ENOTEMPTY, Errno.EINVAL,
        Errno.ENOSPC, Errno.ELOOP, Errno.EPERM, Errno.EBUSY,
    ];

    private static readonly Errno[] Data = [Errno.EBADF, Errno.EINVAL, Errno.EISDIR, Errno.ENOSPC, Errno.ENXIO, Errno.ENODEV, Errno.ESPIPE, Errno.EFBIG];

    private static readonly Errno[] Xattr = [Errno.ENOENT, Errno.ENOTDIR, Errno.ELOOP, Errno.ENODATA, Errno.EEXIST, Errno.ENOSPC, Errno.EPERM, Errno.ERANGE];

    private readonly FileSystem fs;
    private readonly StressHarness harness;
    private readonly int id;
    private readonly Random rng;
    private readonly List<FileHandle> handles = [];
    private readonly List<(DirectoryHandle Handle, long Cookie)> dirs = [];
    private readonly byte[] buffer = new byte[70_000];

    public Churn(FileSystem fs, StressHarness harness, int id, int seed)
    {
        this.fs = fs;
        this.harness = harness;
        this.id = id;
        rng = new Random(seed);
        rng.NextBytes(buffer);
    }

    /// <summary>An errno every call may return besides its own (ENODEV while the mount goes away).</summary>
    public Errno? AlsoAllowed { get; init; }

    /// <summary>Largest offset a write or fallocate of this workload reaches.</summary>
    public long MaxOffset { get; init; } = 256 * 1024;

    public static void CreateTopDirs(FileSystem fs)
    {
        for (var i = 0; i < TopDirs; i++)
        {
            fs.Mkdir($"/d{i}", 0x1FF /* 0777 */);
        }
    }

    public void Step()
    {
        var op = rng.Next(24);
        switch (op)
        {
            case 0:
            case 1:
                OpenSomething();
                break;
            case 2:
            case 3:
                Try("write", Data, () => WithHandle(h => h.Write(buffer.AsSpan(0, rng.Next(1, 20_000)), RandomOffset())));
                break;
            case 4:
                Try("read", Data, () => WithHandle(h =>
                {
                    var n = h.Read(buffer.AsSpan(0, rng.Next(1, 20_000)), RandomOffset());
                    if (n < 0 || n > 20_000)
                    {
                        harness.Fail(id, $"read returned {n}");
                    }
                }));
                break;
            case 5:
                Try("ftruncate", Data, () => WithHandle(h => h.Truncate(RandomOffset())));
                break;
            case 6:
                var mode = (FallocateMode)rng.Next(4); // Default, KeepSize, PunchHole alone (EOPNOTSUPP), PunchHole | KeepSize
                Try($"fallocate {mode}", [.. Data, Errno.EOPNOTSUPP], () => WithHandle(h => h.Fallocate(mode, RandomOffset(), rng.Next(1, 40_000))));
                break;
            case 7:
                Try("seek", Data, () => WithHandle(h => h.Seek(RandomOffset() / 4, rng.Next(2) == 0 ? Whence.Data : Whence.Hole)));
                break;
            case 8:
                CloseSomething();
                break;
            case 9:
                var u = RandomPath();
                Try($"unlink {u}", Namespace, () => fs.Unlink(u));
                break;
            case 10:
                var r = RandomPath(dir: true);
                Try($"rmdir {r}", Namespace, () => fs.Rmdir(r));
                break;
            case 11:
                var m = RandomPath(dir: true);
                Try($"mkdir {m}", Namespace, () => fs.Mkdir(m, 0x1FF /* 0777 */));
                break;
            case 12:
            case 13:
                var from = RandomPath(dir: rng.Next(3) == 0);
                var to = RandomPath(dir: rng.Next(3) == 0);
                var flags = rng.Next(4) switch
                {
                    0 => RenameFlags.NoReplace,
                    1 => RenameFlags.Exchange,
                    _ => RenameFlags.None,
                };
                Try($"rename {from} {to} {flags}", Namespace, () => fs.Rename(from, to, flags));
                break;
            case 14:
                var existing = RandomPath();
                var link = RandomPath();
                Try($"link {existing} {link}", [.. Namespace, Errno.EMLINK], () => fs.Link(existing, link));
                break;
            case 15:
                var target = rng.Next(4) switch
                {
                    0 => new string('x', 200), // long: takes a page
                    1 => RandomPath(),
                    2 => "../n1",
                    _ => "n" + rng.Next(6),
                };
                var sl = RandomPath();
                Try($"symlink {sl}", Namespace, () => fs.Symlink(target, sl));
                break;
            case 16:
                var cp = RandomPath();
                Try($"chmod {cp}", Namespace, () => fs.Chmod(cp, rng.Next(2) == 0 ? 0x1ED /* 0755 */ : 0x1B6 /* 0666 */));
                break;
            case 17:
                XattrOp();
                break;
            case 18:
                ReadDirectory();
                break;
            case 19:
                var sp = RandomPath(dir: rng.Next(2) == 0);
                Try($"stat {sp}", Namespace, () =>
                {
                    var st = fs.Stat(sp, follow: rng.Next(2) == 0);
                    if (st.IsDirectory && st.Nlink < 2)
                    {
                        harness.Fail(id, $"directory {sp} with nlink {st.Nlink}");
                    }

                    if (st.IsSymlink)
                    {
                        fs.ReadLink(sp);
                    }
                });
                break;
            case 20:
                var tp = RandomPath();
                Try($"truncate {tp}", [.. Namespace, .. Data], () => fs.Truncate(tp, RandomOffset()));
                break;
            case 21:
                TmpFile();
                break;
            case 22:
                var np = RandomPath();
                Try($"mknod {np}", Namespace, () => fs.Mknod(np, FileModes.Fifo | 0x1A4 /* 0644 */));
                break;
            default:
                var ap = RandomPath();
                Try($"utimens {ap}", Namespace, () => fs.Utimens(ap, Timespec.Now, Timespec.Omit));
                Try("statfs", [], () => fs.StatFs());
                break;
        }
    }

    public void Dispose()
    {
        foreach (var h in handles)
        {
            h.Dispose();
        }

        foreach (var (d, _) in dirs)
        {
            d.Dispose();
        }

        handles.Clear();
        dirs.Clear();
    }

    /// <summary>Runs an operation; a TmpfsException with an errno outside <paramref name="allowed"/>, or any other exception, is a failure.</summary>
    public bool Try(string what, Errno[] allowed, Action action)
    {
        harness.Doing(id, what);
        try
        {
            action();
            return true;
        }
        catch (TmpfsException e) when (Array.IndexOf(allowed, e.Errno) >= 0 || (AlsoAllowed is { } also && e.Errno == also))
        {
            return false;
        }
        catch (TmpfsException e)
        {
            harness.Fail(id, $"{what}: unexpected errno {e.Errno}: {e.Message}");
            return false;
        }
    }

    public string RandomPath(bool dir = false)
    {
        var parent = rng.Next(3) switch
        {
            0 => $"/d{rng.Next(TopDirs)}",
            1 => $"/d{rng.Next(TopDirs)}/s{rng.Next(3)}",
            _ => $"/d{rng.Next(TopDirs)}/s{rng.Next(3)}/s{rng.Next(3)}",
        };
        return parent + (dir ? $"/s{rng.Next(3)}" : $"/n{rng.Next(6)}");
    }

    private long RandomOffset() => rng.Next(8) == 0 ? rng.NextInt64(MaxOffset) : rng.Next(16_384);

    private void WithHandle(Action<FileHandle> action)
    {
        if (handles.Count == 0)
        {
            return;
        }

        action(handles[rng.Next(handles.Count)]);
    }

    private void OpenSomething()
    {
        if (handles.Count >= 6)
        {
            CloseSomething();
        }

        var path = RandomPath(dir: rng.Next(8) == 0);
        var access = rng.Next(3) switch
        {
            0 => OpenFlags.ReadOnly,
            1 => OpenFlags.WriteOnly,
            _ => OpenFlags.ReadWrite,
        };
        var flags = access;
        if (rng.Next(2) == 0)
        {
            flags |= OpenFlags.Create;
        }

        if (rng.Next(6) == 0)
        {
            flags |= OpenFlags.Exclusive;
        }

        if (rng.Next(6) == 0)
        {
            flags |= OpenFlags.Truncate;
        }

        if (rng.Next(6) == 0)
        {
            flags |= OpenFlags.Append;
        }

        if (rng.Next(8) == 0)
        {
            flags |= OpenFlags.NoFollow;
        }

        if (rng.Next(10) == 0)
        {
            flags |= OpenFlags.Directory;
        }

        FileHandle? opened = null;
        if (Try($"open {path} {flags}", [.. Namespace, Errno.ENXIO], () => opened = fs.Open(path, flags, 0x1B6 /* 0666 */)))
        {
            handles.Add(opened!);
        }
    }

    private void CloseSomething()
    {
        harness.Doing(id, "close");
        if (handles.Count > 0 && (dirs.Count == 0 || rng.Next(2) == 0))
        {
            var at = rng.Next(handles.Count);
            handles[at].Dispose();
            handles.RemoveAt(at);
        }
        else if (dirs.Count > 0)
        {
            var at = rng.Next(dirs.Count);
            dirs[at].Handle.Dispose();
            dirs.RemoveAt(at);
        }
    }

    private void XattrOp()
    {
        var p = RandomPath(dir: rng.Next(3) == 0);
        var name = "user.k" + rng.Next(3);
        switch (rng.Next(4))
        {
            case 0:
                var flags = (XattrFlags)rng.Next(3);
                var len = rng.Next(2) == 0 ? rng.Next(16) : rng.Next(4000);
                Try($"setxattr {p} {name} {flags}", Xattr, () => fs.SetXattr(p, name, buffer.AsSpan(0, len), flags));
                break;
            case 1:
                Try($"removexattr {p} {name}", Xattr, () => fs.RemoveXattr(p, name));
                break;
            case 2:
                Try($"getxattr {p} {name}", Xattr, () => fs.GetXattr(p, name));
                break;
            default:
                Try($"listxattr {p}", Xattr, () => fs.ListXattr(p));
                break;
        }
    }

    /// <summary>readdir in small steps through stable cookies, some resumed on a later step.</summary>
    private void ReadDirectory()
    {
        if (dirs.Count > 0 && rng.Next(2) == 0)
        {
            var at = rng.Next(dirs.Count);
            var (h, cookie) = dirs[at];
            harness.Doing(id, $"readdir resume at {cookie}");
            var entries = h.Read(cookie, rng.Next(1, 5));
            foreach (var e in entries)
            {
                if (e.NextCookie <= cookie)
                {
                    harness.Fail(id, $"readdir went back: cookie {e.NextCookie} after {cookie} ('{e.Name}')");
                }

                cookie = e.NextCookie;
            }

            if (entries.Count == 0)
            {
                h.Dispose();
                dirs.RemoveAt(at);
            }
            else
            {
                dirs[at] = (h, cookie);
            }

            return;
        }

        var path = rng.Next(3) == 0 ? $"/d{rng.Next(TopDirs)}" : RandomPath(dir: true);
        DirectoryHandle? opened = null;
        if (Try($"opendir {path}", Namespace, () => opened = fs.OpenDirectory(path)))
        {
            if (dirs.Count >= 3)
            {
                dirs[0].Handle.Dispose();
                dirs.RemoveAt(0);
            }

            dirs.Add((opened!, 0));
        }
    }

    private void TmpFile()
    {
        var dir = $"/d{rng.Next(TopDirs)}";
        FileHandle? tmp = null;
        if (!Try($"O_TMPFILE in {dir}", Namespace, () => tmp = fs.Open(dir, OpenFlags.TmpFile | OpenFlags.ReadWrite, 0x180 /* 0600 */)))
        {
            return;
        }

        Try("write tmpfile", Data, () => tmp!.Write(buffer.AsSpan(0, rng.Next(1, 9000)), 0));
        if (rng.Next(2) == 0)
        {
            var name = RandomPath();
            Try($"linkat tmpfile {name}", Namespace, () => fs.LinkHandle(tmp!, name));
        }

        if (rng.Next(2) == 0)
        {
            handles.Add(tmp!);
        }
        else
        {
            tmp!.Dispose();
        }
    }
}
