using System.Globalization;

namespace Tmpfs.Cli.Stress;

/// <summary>Human-readable sizes and rates for progress lines and reports.</summary>
public static class Units
{
    /// <summary>Bytes in binary units: 512 B, 1.5 KiB, 12.3 GiB.</summary>
    public static string Bytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var u = 0;
        while (Math.Abs(bytes) >= 1024 && u < units.Length - 1)
        {
            bytes /= 1024;
            u++;
        }

        return u == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes:0} {units[u]}")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.0} {units[u]}");
    }

    /// <summary>A count with thousands separators.</summary>
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
