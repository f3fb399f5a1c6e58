using System.Text;

namespace Tmpfs.Cli.Daemon;

/// <summary>Reads /proc/self/mountinfo.</summary>
internal static class MountTable
{
    /// <summary>The filesystem type and source of the topmost mount at <paramref name="mountPoint"/>, or null.</summary>
    public static (string Type, string Source, string Options)? Find(string mountPoint)
    {
        (string, string, string)? found = null;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var parts = line.Split(' ');
            var dash = Array.IndexOf(parts, "-");
            if (parts.Length > 4 && dash > 0 && dash + 2 < parts.Length && Unescape(parts[4]) == mountPoint)
            {
                found = (parts[dash + 1], Unescape(parts[dash + 2]), parts[5]); // the last one is on top
            }
        }

        return found;
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var sb = new StringBuilder();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                sb.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }

        return sb.ToString();
    }
}
