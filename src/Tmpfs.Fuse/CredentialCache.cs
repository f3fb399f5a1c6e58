using System.Globalization;

namespace Tmpfs.Fuse;

/// <summary>
/// The caller of a request as the engine's <see cref="Credentials"/>: uid and gid from the
/// request header (the fsuid/fsgid), and the supplementary groups from the
/// <c>Groups:</c> line of /proc/PID/status, cached per pid for a short time. The kernel
/// has already checked permissions (default_permissions) with the full credentials; the
/// engine checks again with these, so both agree.
/// </summary>
internal sealed class CredentialCache(TimeProvider time, TimeSpan lifetime)
{
    private const int MaxEntries = 4096;

    private readonly Lock gate = new();
    private readonly Dictionary<uint, Entry> byPid = [];

    public Credentials Get(uint uid, uint gid, uint pid)
    {
        if (uid == 0 || pid == 0)
        {
            // Root passes every check the groups could matter for; pid 0 is a kernel-internal request.
            return new Credentials(uid, gid);
        }

        var now = time.GetTimestamp();
        lock (gate)
        {
            if (byPid.TryGetValue(pid, out var e) && e.Cred.Uid == uid && e.Cred.Gid == gid && now < e.Expires)
            {
                return e.Cred;
            }
        }

        var cred = new Credentials(uid, gid, ReadGroups(pid));
        lock (gate)
        {
            if (byPid.Count >= MaxEntries)
            {
                byPid.Clear();
            }

            byPid[pid] = new Entry(cred, now + (long)(lifetime.TotalSeconds * time.TimestampFrequency));
        }

        return cred;
    }

    /// <summary>The supplementary groups of a process, or none if it is gone.</summary>
    internal static uint[] ReadGroups(uint pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Groups:", StringComparison.Ordinal))
                {
                    var parts = line["Groups:".Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    var groups = new uint[parts.Length];
                    for (var i = 0; i < parts.Length; i++)
                    {
                        groups[i] = uint.Parse(parts[i], CultureInfo.InvariantCulture);
                    }

                    return groups;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return [];
    }

    private readonly record struct Entry(Credentials Cred, long Expires);
}
