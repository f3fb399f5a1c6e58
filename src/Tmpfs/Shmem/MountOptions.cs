namespace Tmpfs.Shmem;

/// <summary>
/// tmpfs mount options, parsed with the kernel's syntax and meaning (mm/shmem.c:
/// shmem_parse_monolithic, shmem_parse_one, shmem_reconfigure). A null property means the
/// option was not given, so mount and remount can tell "absent" from "set".
/// </summary>
/// <remarks>
/// The RAM budget stands in for the kernel's totalram_pages (budget / <see cref="PageSize"/>).
/// Accepted and ignored: the VFS superblock flags the kernel takes for every filesystem before
/// tmpfs sees the option (ro, rw, sync, async, dirsync, lazytime, nolazytime, mand, nomand; any
/// value, "ro=5" mounts), and mpol= (validated as on a one-node machine, recorded, no effect).
/// Refused as "Unsupported parameter": quota and casefold options, which we do not model.
/// </remarks>
internal sealed record MountOptions
{
    public const int PageSize = 4096;

    /// <summary>shmem's BOGO_INODE_SIZE: nr_inodes is stored as ispace of 1024 per inode.</summary>
    private const ulong BogoInodeSize = 1024;

    /// <summary>Pages; null = not given; 0 = unlimited. From size= or nr_blocks=, the last wins.</summary>
    public long? MaxBlocks { get; init; }

    /// <summary>null = not given; 0 = unlimited.</summary>
    public long? MaxInodes { get; init; }

    /// <summary>Root directory permission bits (octal, masked with 07777).</summary>
    public int? Mode { get; init; }

    public uint? Uid { get; init; }

    public uint? Gid { get; init; }

    /// <summary>true for inode64, false for inode32.</summary>
    public bool? Inode64 { get; init; }

    public bool NoSwap { get; init; }

    /// <summary>never, always, within_size or advise; recorded only.</summary>
    public string? Huge { get; init; }

    /// <summary>The mpol= value as given; recorded only.</summary>
    public string? MemoryPolicy { get; init; }

    /// <summary>true for ro, false for rw (VFS flags, passed on to whoever mounts us).</summary>
    public bool? ReadOnly { get; init; }

    /// <summary>
    /// Parses a comma-separated option string. As shmem_next_opt does, a comma followed by a
    /// digit does not end an option (mpol node lists hold commas), so "size=1m,2" is a bad size.
    /// Empty options and options that start with '=' are skipped (vfs_parse_monolithic_sep).
    /// </summary>
    public static MountOptions Parse(string? options, long budgetBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetBytes);
        var result = new MountOptions();
        if (string.IsNullOrEmpty(options))
        {
            return result;
        }

        foreach (string option in SplitOptions(options))
        {
            int equals = option.IndexOf('=', StringComparison.Ordinal);
            if (option.Length == 0 || equals == 0)
            {
                continue;
            }

            string key = equals < 0 ? option : option[..equals];
            string? value = equals < 0 ? null : option[(equals + 1)..];
            result = result.ParseOne(key, value, (ulong)budgetBytes / PageSize);
        }

        return result;
    }

    /// <summary>memparse of a byte count: "512M", "1g", "4096", "10k", "0x1000".</summary>
    public static long ParseSize(string text) => ParseMemValue(RequireValue("size", text), "size", long.MaxValue);

    /// <summary>shmem_default_max_blocks: half of RAM, in pages.</summary>
    public static long DefaultMaxBlocks(long budgetBytes) => budgetBytes / PageSize / 2;

    /// <summary>
    /// shmem_default_max_inodes: min(totalram - totalhigh, totalram / 2) pages. We have no
    /// highmem, so it equals <see cref="DefaultMaxBlocks"/> (both 3085510 on this 24 GB machine).
    /// </summary>
    public static long DefaultMaxInodes(long budgetBytes) => budgetBytes / PageSize / 2;

    /// <summary>
    /// shmem_reconfigure: checks a remount and returns the new limits. Mode, uid and gid are
    /// ignored on remount (the kernel parses and drops them). <paramref name="usedInodes"/> is
    /// the used ispace in inodes, rounded up (the kernel compares nr_inodes * 1024 with it).
    /// </summary>
    /// <param name="currentNoSwap">Whether the mount already has noswap; "noswap" cannot be added.</param>
    /// <param name="nextInode">The superblock's next inode number, for the inode32 check.</param>
    public static (long MaxBlocks, long MaxInodes) Reconfigure(
        MountOptions requested,
        long currentMaxBlocks,
        long currentMaxInodes,
        long usedBlocks,
        long usedInodes,
        bool currentNoSwap = false,
        ulong nextInode = 0)
    {
        ArgumentNullException.ThrowIfNull(requested);

        // A limit of 0 means unlimited and is always allowed; only finite limits are checked.
        if (requested.MaxBlocks is long blocks and not 0)
        {
            if (currentMaxBlocks == 0)
            {
                TmpfsException.Throw(Errno.EINVAL, "tmpfs: Cannot retroactively limit size");
            }

            if (usedBlocks > blocks)
            {
                TmpfsException.Throw(Errno.EINVAL, "tmpfs: Too small a size for current use");
            }
        }

        if (requested.MaxInodes is long inodes and not 0)
        {
            if (currentMaxInodes == 0)
            {
                TmpfsException.Throw(Errno.EINVAL, "tmpfs: Cannot retroactively limit inodes");
            }

            if (inodes < usedInodes)
            {
                TmpfsException.Throw(Errno.EINVAL, "tmpfs: Too few inodes for current use");
            }
        }

        if (requested.Inode64 == false && nextInode > uint.MaxValue)
        {
            TmpfsException.Throw(Errno.EINVAL, "tmpfs: Current inum too high to switch to 32-bit inums");
        }

        // noswap has no "swap" counterpart, and cannot be turned on for a live mount.
        if (requested.NoSwap && !currentNoSwap)
        {
            TmpfsException.Throw(Errno.EINVAL, "tmpfs: Cannot disable swap on remount");
        }

        return (requested.MaxBlocks ?? currentMaxBlocks, requested.MaxInodes ?? currentMaxInodes);
    }

    private static IEnumerable<string> SplitOptions(string options)
    {
        int start = 0;
        for (int i = 0; i < options.Length; i++)
        {
            if (options[i] == ',' && !(i + 1 < options.Length && char.IsAsciiDigit(options[i + 1])))
            {
                yield return options[start..i];
                start = i + 1;
            }
        }

        yield return options[start..];
    }

    private MountOptions ParseOne(string key, string? value, ulong totalPages)
    {
        switch (key)
        {
            case "size":
                return this with { MaxBlocks = ParseSizeOption(RequireValue(key, value), totalPages) };
            case "nr_blocks":
                return this with { MaxBlocks = ParseMemValue(RequireValue(key, value), key, long.MaxValue) };
            case "nr_inodes":
                return this with { MaxInodes = ParseMemValue(RequireValue(key, value), key, (long)(ulong.MaxValue / BogoInodeSize)) };
            case "mode":
                // fsparam_u32oct: kstrtouint base 8; "mode=777777" mounts as 7777.
                return this with { Mode = (int)(ParseU32(key, value, 8) & 0xFFF) };
            case "uid":
                return this with { Uid = ParseId(key, value) };
            case "gid":
                return this with { Gid = ParseId(key, value) };
            case "huge":
                return value is "never" or "always" or "within_size" or "advise"
                    ? this with { Huge = value }
                    : BadValue(key);
            case "mpol":
                return MemoryPolicyParser.IsValid(value) ? this with { MemoryPolicy = value } : BadValue(key);
            case "inode32":
                return this with { Inode64 = RequireFlag(key, value, false) };
            case "inode64":
                return this with { Inode64 = RequireFlag(key, value, true) };
            case "noswap":
                return this with { NoSwap = RequireFlag(key, value, true) };
            case "ro":
                return this with { ReadOnly = true };
            case "rw":
                return this with { ReadOnly = false };
            case "sync" or "async" or "dirsync" or "lazytime" or "nolazytime" or "mand" or "nomand":
                return this;
            case "source":
                // mount(2) has already set the source, so the VFS refuses a second one.
                return TmpfsException.Throw<MountOptions>(Errno.EINVAL, "Multiple sources");
            case "quota" or "usrquota" or "grpquota" or "usrquota_block_hardlimit" or "usrquota_inode_hardlimit"
                or "grpquota_block_hardlimit" or "grpquota_inode_hardlimit" or "casefold" or "strict_encoding":
                return TmpfsException.Throw<MountOptions>(Errno.EINVAL, $"tmpfs: Unsupported parameter '{key}'");
            default:
                return TmpfsException.Throw<MountOptions>(Errno.EINVAL, $"tmpfs: Unknown parameter '{key}'");
        }
    }

    /// <summary>
    /// size=: memparse bytes, or N% of RAM computed as (N &lt;&lt; PAGE_SHIFT) * totalram / 100
    /// bytes (truncating), then rounded up to whole pages: 10% of 6171021 pages is 617103.
    /// </summary>
    private static long ParseSizeOption(string value, ulong totalPages)
    {
        ulong size = SizeParser.MemParse(value, out int end, out bool overflowed);
        UInt128 bytes = size;
        if (end < value.Length && value[end] == '%')
        {
            bytes = ((UInt128)size << 12) * totalPages / 100;
            end++;
        }

        return end != value.Length || overflowed || bytes > ulong.MaxValue
            ? BadValue<long>("size")
            : (long)((bytes + PageSize - 1) / PageSize);
    }

    private static long ParseMemValue(string value, string key, long max)
    {
        ulong parsed = SizeParser.MemParse(value, out int end, out bool overflowed);
        return end != value.Length || overflowed || parsed > (ulong)max ? BadValue<long>(key) : (long)parsed;
    }

    private static uint ParseU32(string key, string? value, int numberBase) =>
        SizeParser.TryParseKstrtouint(value, numberBase, out uint parsed) ? parsed : BadValue<uint>(key);

    /// <summary>fsparam_uid/gid: kstrtouint base 0 ("0x10" is 16); (uid_t)-1 is invalid.</summary>
    private static uint ParseId(string key, string? value)
    {
        uint id = ParseU32(key, value, 0);
        return id != uint.MaxValue
            ? id
            : TmpfsException.Throw<uint>(Errno.EINVAL, $"tmpfs: Invalid {key} '{value}'");
    }

    /// <summary>fsparam_string refuses a missing or empty value.</summary>
    private static string RequireValue(string key, string? value) =>
        string.IsNullOrEmpty(value) ? BadValue<string>(key) : value;

    private static bool RequireFlag(string key, string? value, bool result) =>
        value is null ? result : TmpfsException.Throw<bool>(Errno.EINVAL, $"tmpfs: Unexpected value for '{key}'");

    private static MountOptions BadValue(string key) => BadValue<MountOptions>(key);

    private static T BadValue<T>(string key) =>
        TmpfsException.Throw<T>(Errno.EINVAL, $"tmpfs: Bad value for '{key}'");

    /// <summary>
    /// mpol_parse_str (mm/mempolicy.c) on a machine with one memory node, node 0, like the one
    /// this was checked on: "mode[=static|relative][:nodelist]".
    /// </summary>
    private static class MemoryPolicyParser
    {
        public static bool IsValid(string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return false;
            }

            int colon = value.IndexOf(':', StringComparison.Ordinal);
            string? nodes = colon < 0 ? null : value[(colon + 1)..];
            string mode = colon < 0 ? value : value[..colon];
            int equals = mode.IndexOf('=', StringComparison.Ordinal);
            string? flags = equals < 0 ? null : mode[(equals + 1)..];
            mode = equals < 0 ? mode : mode[..equals];
            if ((flags is not null and not "static" and not "relative") || (nodes is not null && !IsNodeZeroList(nodes)))
            {
                return false;
            }

            return mode switch
            {
                // Seen on 6.18: "default=static" mounts, "default:0" and "local=static" do not.
                "default" => nodes is null,
                "local" => nodes is null && flags is null,

                // Without nodes, prefer becomes local (so flags fail); with nodes, only digits.
                "prefer" => nodes is null ? flags is null : nodes.All(char.IsAsciiDigit),
                "bind" => nodes is not null,
                "interleave" => true,
                _ => false,
            };
        }

        /// <summary>A bitmap_parselist node list ("0", "0-0", "0,0", " 0") naming only node 0.</summary>
        private static bool IsNodeZeroList(string nodes)
        {
            bool any = false;
            foreach (string item in nodes.Split(','))
            {
                string trimmed = item.Trim();
                if (trimmed.Length == 0)
                {
                    continue;
                }

                int dash = trimmed.IndexOf('-', StringComparison.Ordinal);
                string first = dash < 0 ? trimmed : trimmed[..dash];
                string last = dash < 0 ? trimmed : trimmed[(dash + 1)..];
                if (!IsZero(first) || !IsZero(last))
                {
                    return false;
                }

                any = true;
            }

            return any;
        }

        private static bool IsZero(string number) => number.Length > 0 && number.All(c => c == '0');
    }
}
