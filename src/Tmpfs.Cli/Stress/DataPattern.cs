using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// The bytes a loop writes: a deterministic function of the loop's key and the file offset
/// (SplitMix64 of key + offset/8), so a page that comes back from the wrong file, the wrong
/// offset, an earlier loop or as zeroes never matches, and a mismatch can be located exactly.
/// </summary>
internal static class DataPattern
{
    /// <summary>The key of one loop of one worker in a run with <paramref name="seed"/>.</summary>
    public static ulong Key(int seed, int worker, long loop) =>
        Mix(Mix((ulong)(uint)seed) ^ Mix(((ulong)(uint)worker << 40) ^ (ulong)loop));

    /// <summary>Fills <paramref name="chunk"/> (a multiple of 8 bytes) with the data at <paramref name="fileOffset"/> (a multiple of 8).</summary>
    public static void Fill(Span<byte> chunk, ulong key, long fileOffset)
    {
        Debug.Assert(chunk.Length % 8 == 0 && fileOffset % 8 == 0, "the pattern is laid in 8-byte words");
        var words = MemoryMarshal.Cast<byte, ulong>(chunk);
        var at = key + ((ulong)fileOffset >> 3);
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = Mix(at + (ulong)i);
        }
    }

    /// <summary>The offset of the first byte of <paramref name="actual"/> that differs from the pattern, or -1.</summary>
    public static long FirstMismatch(ReadOnlySpan<byte> actual, ulong key, long fileOffset, out byte expected, out byte found)
    {
        var want = new byte[(actual.Length + 7) & ~7];
        Fill(want, key, fileOffset);
        for (var i = 0; i < actual.Length; i++)
        {
            if (actual[i] != want[i])
            {
                expected = want[i];
                found = actual[i];
                return fileOffset + i;
            }
        }

        expected = found = 0;
        return -1;
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
