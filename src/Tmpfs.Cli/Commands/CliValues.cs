using System.CommandLine.Parsing;
using System.Globalization;

namespace Tmpfs.Cli.Commands;

/// <summary>Parsers for the values commands take: sizes with the kernel's suffixes, and durations.</summary>
internal static class CliValues
{
    /// <summary>A size as memparse reads it: 512M, 1G, 4096, 64k.</summary>
    public static long Size(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        try
        {
            var bytes = MemoryManager.ParseSize(text);
            if (bytes < 0)
            {
                result.AddError($"'{text}' is not a size");
            }

            return bytes;
        }
        catch (TmpfsException)
        {
            result.AddError($"'{text}' is not a size (e.g. 256M, 1G, 4096)");
            return 0;
        }
    }

    /// <summary>A duration: 90 or 90s, 500ms, 2m, 1h, or hh:mm:ss.</summary>
    public static TimeSpan Duration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        result.AddError($"'{text}' is not a duration (e.g. 60s, 2m, 500ms, 1h, 00:01:30)");
        return TimeSpan.Zero;
    }

    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        text = text.Trim();
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                value = TimeSpan.FromSeconds(n * seconds);
                return true;
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain >= 0)
        {
            value = TimeSpan.FromSeconds(plain);
            return true;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }
}
