namespace Tmpfs.Tests.Differential;

/// <summary>The engine under test: a fresh mount with the same options as the kernel's.</summary>
internal sealed class EngineTarget : IFsTarget
{
    /// <summary>The result code standing for "threw something other than TmpfsException".</summary>
    public const int Unexpected = -99999;

    [ThreadStatic]
    private static string? lastUnexpected;

    private readonly MemoryManager memory;
    private readonly FileSystem fs;
    private Credentials? cred;

    /// <summary>
    /// The engine mounted with <paramref name="options"/>. Without root the kernel side runs as
    /// the current user in a directory it owns, so the engine's root directory gets that owner
    /// and "root" operations run as that user.
    /// </summary>
    public EngineTarget(string options)
    {
        memory = new MemoryManager(64L << 20);
        if (!KernelTarget.IsRoot)
        {
            user = new Credentials(Native.Geteuid(), Native.Getegid());
            options += FormattableString.Invariant($",uid={user.Value.Uid},gid={user.Value.Gid}");
        }

        fs = memory.Mount(options);
        cred = user;
    }

    private readonly Credentials? user;

    public string Name => "engine";

    public bool SupportsCallers => true;

    public bool HasLimits => KernelTarget.IsRoot; // statfs is comparable only between two mounts

    /// <summary>The exception behind the last <see cref="Unexpected"/> result on this thread.</summary>
    public static string TakeUnexpected()
    {
        var s = lastUnexpected ?? "?";
        lastUnexpected = null;
        return s;
    }

    public void Begin()
    {
    }

    public void End()
    {
    }

    public void SetCaller(Caller caller) => cred = caller.IsRoot ? user : new Credentials(caller.Uid, caller.Gid, caller.Groups);

    public void RestoreRoot() => cred = user;

    private static int Call(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (TmpfsException e)
        {
            return -(int)e.Errno;
        }
        catch (Exception e)
        {
            lastUnexpected = $"{e.GetType().Name}: {e.Message}";
            return Unexpected;
        }
    }

    private static long Call(Func<long> action)
    {
        try
        {
            return action();
        }
        catch (TmpfsException e)
        {
            return -(int)e.Errno;
        }
        catch (Exception e)
        {
            lastUnexpected = $"{e.GetType().Name}: {e.Message}";
            return Unexpected;
        }
    }

    private static FsStat Convert(StatInfo s) => new(
        s.Mode, s.Nlink, s.Uid, s.Gid, s.Size, s.Blocks, s.Rdev, (ulong)s.Ino,
        new Ts(s.Atime.Seconds, s.Atime.Nanoseconds), new Ts(s.Mtime.Seconds, s.Mtime.Nanoseconds), new Ts(s.Ctime.Seconds, s.Ctime.Nanoseconds));

    private static Timespec Convert(Ts t) => new(t.Sec, t.Nsec);

    public int Open(string path, int flags, int mode, out object? handle)
    {
        FileHandle? h = null;
        var rc = Call(() => h = fs.Open(path, (OpenFlags)flags, mode, cred));
        handle = h;
        return rc;
    }

    public int Close(object handle) => Call(((FileHandle)handle).Dispose);

    public int Read(object handle, Span<byte> buffer, long offset)
    {
        try
        {
            return ((FileHandle)handle).Read(buffer, offset);
        }
        catch (TmpfsException e)
        {
            return -(int)e.Errno;
        }
        catch (Exception e)
        {
            lastUnexpected = $"{e.GetType().Name}: {e.Message}";
            return Unexpected;
        }
    }

    public int Write(object handle, ReadOnlySpan<byte> data, long offset)
    {
        try
        {
            return ((FileHandle)handle).Write(data, offset);
        }
        catch (TmpfsException e)
        {
            return -(int)e.Errno;
        }
        catch (Exception e)
        {
            lastUnexpected = $"{e.GetType().Name}: {e.Message}";
            return Unexpected;
        }
    }

    public int FTruncate(object handle, long length) => Call(() => ((FileHandle)handle).Truncate(length));

    public int Fallocate(object handle, int mode, long offset, long length) =>
        Call(() => ((FileHandle)handle).Fallocate((FallocateMode)mode, offset, length));

    public long Seek(object handle, long offset, int whence) => Call(() => ((FileHandle)handle).Seek(offset, (Whence)whence));

    public int FStat(object handle, out FsStat stat)
    {
        StatInfo s = default;
        var rc = Call(() => s = ((FileHandle)handle).Stat());
        stat = Convert(s);
        return rc;
    }

    public int FChmod(object handle, int mode) => Call(() => ((FileHandle)handle).Chmod(mode));

    public int FChown(object handle, uint uid, uint gid) => Call(() => ((FileHandle)handle).Chown(uid, gid));

    public int FUtimens(object handle, Ts atime, Ts mtime) =>
        Call(() => ((FileHandle)handle).Utimens(Convert(atime), Convert(mtime)));

    public int LinkHandle(object handle, string newPath) => Call(() => fs.LinkHandle((FileHandle)handle, newPath, cred));

    public int Mkdir(string path, int mode) => Call(() => fs.Mkdir(path, mode, cred));

    public int Rmdir(string path) => Call(() => fs.Rmdir(path, cred));

    public int Unlink(string path) => Call(() => fs.Unlink(path, cred));

    public int Rename(string oldPath, string newPath, int flags) => Call(() => fs.Rename(oldPath, newPath, (RenameFlags)flags, cred));

    public int Link(string oldPath, string newPath) => Call(() => fs.Link(oldPath, newPath, cred));

    public int Symlink(string target, string linkPath) => Call(() => fs.Symlink(target, linkPath, cred));

    public int ReadLink(string path, out string target)
    {
        var t = string.Empty;
        var rc = Call(() => t = fs.ReadLink(path, cred));
        target = t;
        return rc;
    }

    public int Mknod(string path, int mode, ulong rdev) => Call(() => fs.Mknod(path, mode, rdev, cred));

    public int Chmod(string path, int mode) => Call(() => fs.Chmod(path, mode, cred));

    public int Chown(string path, uint uid, uint gid, bool follow) => Call(() => fs.Chown(path, uid, gid, cred, follow));

    public int Utimens(string path, Ts atime, Ts mtime, bool follow) =>
        Call(() => fs.Utimens(path, Convert(atime), Convert(mtime), cred, follow));

    public int Truncate(string path, long length) => Call(() => fs.Truncate(path, length, cred));

    public int Stat(string path, bool follow, out FsStat stat)
    {
        StatInfo s = default;
        var rc = Call(() => s = fs.Stat(path, cred, follow));
        stat = Convert(s);
        return rc;
    }

    public int Access(string path, int mode) => Call(() => fs.Access(path, (AccessMode)mode, cred));

    public int ReadDir(string path, List<(string Name, int Type)> entries) => Call(() =>
    {
        foreach (var e in fs.ReadDirectory(path, cred))
        {
            entries.Add((e.Name, e.Type));
        }
    });

    public int SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags, bool follow)
    {
        var v = value.ToArray();
        return Call(() => fs.SetXattr(path, name, v, (XattrFlags)flags, cred, follow));
    }

    public int GetXattr(string path, string name, Span<byte> buffer, bool follow)
    {
        try
        {
            return fs.GetXattr(path, name, buffer, cred, follow);
        }
        catch (TmpfsException e)
        {
            return -(int)e.Errno;
        }
        catch (Exception e)
        {
            lastUnexpected = $"{e.GetType().Name}: {e.Message}";
            return Unexpected;
        }
    }

    public int ListXattr(string path, List<string> names, bool follow) => Call(() => names.AddRange(fs.ListXattr(path, cred, follow)));

    public int RemoveXattr(string path, string name, bool follow) => Call(() => fs.RemoveXattr(path, name, cred, follow));

    public int StatFs(out FsStatFs statfs)
    {
        StatFs s = default;
        var rc = Call(() => s = fs.StatFs());
        statfs = new FsStatFs(s.Blocks, s.BlocksFree, s.BlocksAvailable, s.Files, s.FilesFree);
        return rc;
    }

    public void Dispose()
    {
        try
        {
            fs.Unmount(detach: true);
        }
        finally
        {
            memory.Dispose();
        }
    }
}
