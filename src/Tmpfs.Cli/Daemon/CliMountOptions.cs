using System.Globalization;

namespace Tmpfs.Cli.Daemon;

/// <summary>An error in what the user typed: printed as one line, exit code 2 (or 32, mount's "mount failure", in the helper form).</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>
/// The -o string of <c>tmpfs mount</c>, <c>tmpfs SOURCE MOUNTPOINT -o ...</c> (mount.fuse3's form)
/// and remount, split into what goes where: the kernel tmpfs options go to the engine
/// (<see cref="MemoryManager.Mount"/>, which gives the kernel's error messages), the VFS flags
/// (ro/rw, nosuid/suid, nodev/dev, noexec/exec) to mount(2), ours (budget, swap) to the daemon,
/// and what mount(8), fstab and mount.fuse3 add (defaults, noauto, _netdev, x-*, ...) is dropped.
/// </summary>
internal sealed record CliMountOptions
{
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail",
        "relatime", "norelatime", "strictatime", "nostrictatime", "noatime", "atime", "nodiratime", "diratime",
        "silent", "loud", "allow_other", "default_permissions", "auto_unmount", "suid_dev",

        // The FUSE kernel options /proc/mounts shows, which mount(8) passes back on remount.
        "fd", "rootmode", "user_id", "group_id", "max_read", "blksize",
    };

    /// <summary>A <see cref="TmpfsException"/>'s message without the "EINVAL: " its Message starts with.</summary>
    public static string Text(TmpfsException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var prefix = e.Errno + ": ";
        return e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message;
    }

    /// <summary>The kernel tmpfs options, comma-separated, in the order given.</summary>
    public string EngineOptions { get; init; } = "";

    public bool? ReadOnly { get; init; }

    public bool? NoSuid { get; init; }

    public bool? NoDev { get; init; }

    public bool? NoExec { get; init; }

    public bool Remount { get; init; }

    /// <summary>budget=: the RAM budget the daemon's mounts share (applies when the daemon starts).</summary>
    public long? Budget { get; init; }

    /// <summary>swap=: a swap file the daemon switches on (created if missing, removed at swapoff).</summary>
    public string? Swap { get; init; }

    /// <summary>swap_size=: the size of the swap= file.</summary>
    public long? SwapSize { get; init; }

    /// <summary>swap_prio=: its priority.</summary>
    public int? SwapPriority { get; init; }

    /// <summary>direct_io: files open with FOPEN_DIRECT_IO, no copy in the kernel's page cache (set at mount).</summary>
    public bool? DirectIo { get; init; }

    /// <summary>io_uring=auto|on|off: whether the mount serves over FUSE-over-io_uring (see docs/fuse.md; on switches the system-wide enable_uring for the INIT).</summary>
    public Tmpfs.Fuse.FuseIoUring? IoUring { get; init; }

    /// <summary>fsname= (as libfuse takes it): the source shown in /proc/mounts.</summary>
    public string? FsName { get; init; }

    /// <summary>Parses an -o string; a bad option is a <see cref="CliException"/> with one line.</summary>
    public static CliMountOptions Parse(string? text)
    {
        var result = new CliMountOptions();
        if (string.IsNullOrWhiteSpace(text))
        {
            return result;
        }

        var engine = new List<string>();
        foreach (var option in Split(text))
        {
            var eq = option.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? option : option[..eq];
            var value = eq < 0 ? null : option[(eq + 1)..];
            switch (key)
            {
                case "":
                    break;
                case "ro":
                    result = result with { ReadOnly = true };
                    break;
                case "rw":
                    result = result with { ReadOnly = false };
                    break;
                case "nosuid" or "suid":
                    result = result with { NoSuid = key == "nosuid" };
                    break;
                case "nodev" or "dev":
                    result = result with { NoDev = key == "nodev" };
                    break;
                case "noexec" or "exec":
                    result = result with { NoExec = key == "noexec" };
                    break;
                case "remount":
                    result = result with { Remount = true };
                    break;
                case "budget":
                    result = result with { Budget = Size(key, value) };
                    break;
                case "swap":
                    result = result with { Swap = string.IsNullOrEmpty(value) ? throw new CliException("tmpfs: swap= needs a file name") : Path.GetFullPath(value) };
                    break;
                case "swap_size":
                    result = result with { SwapSize = Size(key, value) };
                    break;
                case "swap_prio":
                    result = result with
                    {
                        SwapPriority = int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var p) && p >= -1 && p <= 32767
                            ? p
                            : throw new CliException($"tmpfs: Bad value for 'swap_prio' (-1 to 32767)"),
                    };
                    break;
                case "direct_io":
                    result = result with { DirectIo = true };
                    break;
                case "io_uring":
                    result = result with
                    {
                        IoUring = value switch
                        {
                            "auto" => Tmpfs.Fuse.FuseIoUring.Auto,
                            "on" => Tmpfs.Fuse.FuseIoUring.On,
                            "off" => Tmpfs.Fuse.FuseIoUring.Off,
                            _ => throw new CliException("tmpfs: Bad value for 'io_uring' (auto, on or off)"),
                        },
                    };
                    break;
                case "fsname":
                    result = result with { FsName = string.IsNullOrEmpty(value) ? throw new CliException("tmpfs: fsname= needs a name") : value };
                    break;
                case "subtype":
                    if (value != "tmpfs")
                    {
                        throw new CliException($"tmpfs: subtype must be tmpfs, not '{value}'");
                    }

                    break;
                default:
                    if (Ignored.Contains(key) || key.StartsWith("x-", StringComparison.Ordinal) || key == "comment")
                    {
                        break;
                    }

                    engine.Add(option);
                    break;
            }
        }

        result = result with { EngineOptions = string.Join(',', engine) };
        return result;
    }

    /// <summary>
    /// Checks the kernel tmpfs options against a budget the way the kernel would (a throwaway
    /// mount in a budget that allocates nothing): throws the kernel's message as a <see cref="CliException"/>.
    /// </summary>
    public void Validate(long budget)
    {
        using var memory = new MemoryManager(budget);
        try
        {
            memory.Mount(EngineOptions).Unmount();
        }
        catch (TmpfsException e)
        {
            throw new CliException(Text(e));
        }
    }

    /// <summary>The default budget: half of the machine's RAM (MemTotal), so size= defaults to a quarter of RAM.</summary>
    public static long DefaultBudget()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return Math.Max(64L << 20, kb * 1024 / 2 / 4096 * 4096);
                }
            }
        }
        catch (IOException)
        {
        }

        return 1L << 30;
    }

    /// <summary>As the kernel splits options: a comma followed by a digit stays in the value (mpol node lists).</summary>
    private static IEnumerable<string> Split(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ',' && !(i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }

    private static long Size(string key, string? value)
    {
        try
        {
            var bytes = string.IsNullOrEmpty(value) ? -1 : MemoryManager.ParseSize(value);
            return bytes >= 4096 ? bytes : throw new CliException($"tmpfs: Bad value for '{key}' (a size such as 512M or 2G)");
        }
        catch (TmpfsException)
        {
            throw new CliException($"tmpfs: Bad value for '{key}' (a size such as 512M or 2G)");
        }
    }
}
