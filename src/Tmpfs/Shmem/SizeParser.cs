namespace Tmpfs.Shmem;

/// <summary>
/// The kernel's number parsers that tmpfs mount options go through: <c>memparse</c>
/// (lib/cmdline.c, for size=, nr_blocks=, nr_inodes=) and <c>kstrtouint</c>
/// (lib/kstrtox.c, for mode=, uid=, gid= via fs_param_is_u32).
/// </summary>
internal static class SizeParser
{
    /// <summary>
    /// memparse: <c>simple_strtoull(s, &amp;end, 0)</c>, then one optional K/M/G/T/P/E suffix
    /// (either case, powers of 1024). Returns the value and the index of the first character
    /// not consumed, so the caller can look for '%' or junk as shmem_parse_one does.
    /// </summary>
    /// <remarks>
    /// Like the kernel: no sign is accepted, "0x" selects hex and a leading "0" octal, and no
    /// digits at all parses as 0 (so "k" is 0 and the kernel mounts "size=k" as unlimited).
    /// Unlike the kernel, overflow is an error: the kernel wraps silently, so on this
    /// machine's 6.18 kernel "size=16E" and "size=18446744073709551615" both became size=0k,
    /// i.e. unlimited. <paramref name="overflowed"/> reports it instead.
    /// </remarks>
    public static ulong MemParse(string text, out int end, out bool overflowed)
    {
        ulong value = ParseDigits(text, 0, 0, out end, out overflowed);
        int shift = end < text.Length ? SuffixShift(text[end]) : 0;
        if (shift > 0)
        {
            end++;
            if (shift >= 64 || value > (ulong.MaxValue >> shift))
            {
                overflowed |= value != 0;
            }

            value = shift >= 64 ? 0 : value << shift;
        }

        return value;
    }

    /// <summary>
    /// kstrtouint(s, base): an optional '+', the digits (base 0 detects 0x/0 prefixes), one
    /// optional trailing newline, nothing else; the value must fit in 32 bits.
    /// </summary>
    public static bool TryParseKstrtouint(string? text, int numberBase, out uint value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        int start = text[0] == '+' ? 1 : 0;
        ulong parsed = ParseDigits(text, start, numberBase, out int end, out bool overflowed);
        int digitsStart = RadixPrefixEnd(text, start, numberBase);
        if (end == digitsStart || overflowed || parsed > uint.MaxValue)
        {
            return false;
        }

        if (end < text.Length && text[end] == '\n')
        {
            end++;
        }

        if (end != text.Length)
        {
            return false;
        }

        value = (uint)parsed;
        return true;
    }

    private static int SuffixShift(char c) => char.ToUpperInvariant(c) switch
    {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        'P' => 50,
        'E' => 60,
        _ => 0,
    };

    /// <summary>_parse_integer_fixup_radix: where the digits start once the prefix is skipped.</summary>
    private static int RadixPrefixEnd(string text, int start, int numberBase)
    {
        bool hexPrefix = start + 2 < text.Length && text[start] == '0'
            && (text[start + 1] | 0x20) == 'x' && Uri.IsHexDigit(text[start + 2]);
        return hexPrefix && numberBase is 0 or 16 ? start + 2 : start;
    }

    private static int ResolveBase(string text, int start, int numberBase)
    {
        if (numberBase != 0)
        {
            return numberBase;
        }

        if (start < text.Length && text[start] == '0')
        {
            return RadixPrefixEnd(text, start, 0) != start ? 16 : 8;
        }

        return 10;
    }

    private static ulong ParseDigits(string text, int start, int numberBase, out int end, out bool overflowed)
    {
        int radix = ResolveBase(text, start, numberBase);
        int i = RadixPrefixEnd(text, start, radix);
        ulong value = 0;
        overflowed = false;
        for (; i < text.Length; i++)
        {
            int digit = DigitValue(text[i]);
            if (digit < 0 || digit >= radix)
            {
                break;
            }

            if (value > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                overflowed = true;
            }

            value = unchecked((value * (ulong)radix) + (ulong)digit);
        }

        end = i;
        return value;
    }

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
