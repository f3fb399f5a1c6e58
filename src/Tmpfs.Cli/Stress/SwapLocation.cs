namespace Tmpfs.Cli.Stress;

/// <summary>
/// Picks the directory for a run's swap files: on a disk, not on a tmpfs (swapping into
/// RAM would measure nothing), with room for them; makes a directory of the run's own
/// inside it, which the run removes at the end.
/// </summary>
internal static class SwapLocation
{
    private static readonly string[] RamFilesystems = ["tmpfs", "ramfs", "devtmpfs"];

    /// <summary>
    /// The run's own new directory under <paramref name="requested"/>, or under the system
    /// temporary directory or /var/tmp, whichever is not a tmpfs. Throws
    /// <see cref="IOException"/> when the file system lacks <paramref name="bytesNeeded"/>
    /// plus a margin. <paramref name="warning"/> says when the place is a RAM file system.
    /// </summary>
    public static string Create(string? requested, long bytesNeeded, out string? warning)
    {
        warning = null;
        string parent;
        if (requested is not null)
        {
            parent = Path.GetFullPath(requested);
            if (!Directory.Exists(parent))
            {
                throw new DirectoryNotFoundException($"swap directory '{parent}' does not exist");
            }
        }
        else
        {
            string[] candidates = [Path.GetTempPath(), "/var/tmp"];
            parent = candidates.FirstOrDefault(c => Directory.Exists(c) && !IsRam(FileSystemType(c))) ?? candidates[0];
        }

        var type = FileSystemType(parent);
        if (IsRam(type))
        {
            warning = $"'{parent}' is on a {type}: swap files there live in RAM; pass --swap-dir on a disk";
        }

        var free = FreeBytes(parent);
        var margin = Math.Max(256L << 20, bytesNeeded / 10);
        if (free >= 0 && free < bytesNeeded + margin)
        {
            throw new IOException($"not enough room for {Units.Bytes(bytesNeeded)} of swap files in '{parent}': {Units.Bytes(free)} free; lower --swap-size or pick --swap-dir");
        }

        var dir = Path.Combine(parent, $"tmpfs-stress-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Removes the run's directory and whatever swap files are still in it.</summary>
    public static void Remove(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>The type of the file system holding <paramref name="path"/> ("ext4", "tmpfs", ...), or "" when unknown.</summary>
    public static string FileSystemType(string path) => MountOf(path)?.DriveFormat ?? "";

    private static bool IsRam(string type) => RamFilesystems.Contains(type, StringComparer.Ordinal);

    private static long FreeBytes(string path)
    {
        try
        {
            return MountOf(path)?.AvailableFreeSpace ?? -1;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>The mount whose mount point is the longest prefix of the path.</summary>
    private static DriveInfo? MountOf(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/') + "/";
        DriveInfo? best = null;
        var bestLength = -1;
        foreach (var d in DriveInfo.GetDrives())
        {
            var root = d.Name.TrimEnd('/') + "/";
            if (full.StartsWith(root, StringComparison.Ordinal) && root.Length > bestLength)
            {
                best = d;
                bestLength = root.Length;
            }
        }

        return best;
    }
}
