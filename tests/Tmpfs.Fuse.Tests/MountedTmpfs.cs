using System.Diagnostics;
using System.Text;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// A tmpfs of the engine mounted through FUSE in a fresh temporary directory. Dispose
/// always leaves nothing mounted (umount, then umount -l and an abort if needed) and
/// removes the directory. Tests that need it are skipped when not root or without /dev/fuse.
/// </summary>
internal sealed class MountedTmpfs : IDisposable
{
    private readonly StringWriter log = new();

    /// <param name="options">The engine's mount options.</param>
    /// <param name="mountOptions">The FUSE server's options.</param>
    /// <param name="ioUring">
    /// Serve over io_uring (IoUring = On: the server switches enable_uring to Y for its INIT
    /// and back), skipping when the kernel lacks it; otherwise /dev/fuse only (Off), so that
    /// the classic path stays tested while another test has the parameter switched on.
    /// </param>
    public MountedTmpfs(string options = "size=64m", FuseMountOptions? mountOptions = null, bool ioUring = false)
    {
        SkipUnlessCanMount();
        if (ioUring)
        {
            SkipUnlessIoUring();
        }

        Memory = new MemoryManager(256L << 20);
        Fs = Memory.Mount(options);
        Path = Directory.CreateTempSubdirectory("tmpfs-fuse-").FullName;
        var o = (mountOptions ?? new FuseMountOptions()) with
        {
            Log = TextWriter.Synchronized(log),
            IoUring = ioUring ? FuseIoUring.On : FuseIoUring.Off,
        };
        Mount = FuseMount.Mount(Fs, Path, o);
        if (ioUring)
        {
            // INIT comes after mount(2) returns; the first request waits for it (and, with
            // io_uring, for every queue to register: fuse_block_alloc).
            _ = File.Exists(System.IO.Path.Combine(Path, ".init"));
            Assert.True(Mount.UsesIoUring, "the mount did not negotiate io_uring: " + Log);
        }
    }

    public MemoryManager Memory { get; }

    public FileSystem Fs { get; }

    public string Path { get; }

    public FuseMount Mount { get; }

    public string Log => log.ToString();

    public static void SkipUnlessCanMount()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FUSE needs Linux");
        Skip.IfNot(Environment.UserName == "root" || IsRoot(), "FUSE mount tests need root (mount(2) of fuse with fd=)");
        Skip.IfNot(File.Exists("/dev/fuse"), "/dev/fuse is missing: FUSE mount tests skipped");
    }

    /// <summary>Skips unless this kernel has FUSE over io_uring (the enable_uring module parameter exists).</summary>
    public static void SkipUnlessIoUring() =>
        Skip.If(FuseMount.IoUringEnabled() is null, "this kernel has no FUSE over io_uring (no /sys/module/fuse/parameters/enable_uring): io_uring variants skipped");

    public static bool IsMounted(string path)
    {
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length > 1 && parts[1] == path)
            {
                return true;
            }
        }

        return false;
    }

    public string At(string relative) => System.IO.Path.Combine(Path, relative);

    /// <summary>Runs a shell script with the mount as its working directory.</summary>
    public (int Exit, string Out, string Err) Sh(string script, string? user = null) => Run("sh", ["-c", script], Path, user);

    public static (int Exit, string Out, string Err) Run(string file, IEnumerable<string> args, string? cwd = null, string? user = null)
    {
        var psi = new ProcessStartInfo(user is null ? file : "setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = cwd ?? "/",
        };
        if (user is not null)
        {
            foreach (var a in user.Split(' '))
            {
                psi.ArgumentList.Add(a);
            }

            psi.ArgumentList.Add(file);
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        try
        {
            Mount.Dispose();
        }
        finally
        {
            if (IsMounted(Path))
            {
                Run("umount", ["-l", Path]);
            }

            try
            {
                Directory.Delete(Path);
            }
            catch (IOException)
            {
            }

            Memory.Dispose();
        }
    }

    private static bool IsRoot()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    return line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0";
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }

    public static string Text(byte[] b) => Encoding.UTF8.GetString(b);
}
