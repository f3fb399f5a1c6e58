namespace Tmpfs.Shmem;

// Minimal placeholder until the full parser lands from the options branch.
internal sealed record MountOptions
{
    public const int PageSize = 4096;

    public long? MaxBlocks { get; init; }

    public long? MaxInodes { get; init; }

    public int? Mode { get; init; }

    public uint? Uid { get; init; }

    public uint? Gid { get; init; }

    public bool? Inode64 { get; init; }

    public bool NoSwap { get; init; }

    public string? Huge { get; init; }

    public static MountOptions Parse(string? options, long budgetBytes)
    {
        var result = new MountOptions();
        if (string.IsNullOrEmpty(options))
        {
            return result;
        }

        foreach (var opt in options.Split(','))
        {
            var eq = opt.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? opt : opt[..eq];
            var value = eq < 0 ? string.Empty : opt[(eq + 1)..];
            result = key switch
            {
                "size" => result with { MaxBlocks = (ParseSize(value) + PageSize - 1) / PageSize },
                "nr_inodes" => result with { MaxInodes = ParseSize(value) },
                "mode" => result with { Mode = Convert.ToInt32(value, 8) & 0xFFF },
                "uid" => result with { Uid = uint.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
                "gid" => result with { Gid = uint.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
                _ => TmpfsException.Throw<MountOptions>(Errno.EINVAL, $"tmpfs: Unknown parameter '{key}'"),
            };
        }

        return result;
    }

    public static long ParseSize(string text)
    {
        var mult = 1L;
        var t = text;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            mult = char.ToLowerInvariant(t[^1]) switch
            {
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => TmpfsException.Throw<long>(Errno.EINVAL, $"bad size '{text}'"),
            };
            t = t[..^1];
        }

        return long.Parse(t, System.Globalization.CultureInfo.InvariantCulture) * mult;
    }

    public static long DefaultMaxBlocks(long budgetBytes) => budgetBytes / PageSize / 2;

    public static long DefaultMaxInodes(long budgetBytes) => budgetBytes / PageSize / 2;

    public static (long MaxBlocks, long MaxInodes) Reconfigure(MountOptions requested, long currentMaxBlocks, long currentMaxInodes, long usedBlocks, long usedInodes) =>
        (requested.MaxBlocks ?? currentMaxBlocks, requested.MaxInodes ?? currentMaxInodes);
}
