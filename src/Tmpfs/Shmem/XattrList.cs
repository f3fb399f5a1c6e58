namespace Tmpfs.Shmem;

/// <summary>
/// An inode's extended attributes (the kernel's simple_xattrs), in insertion order as
/// listxattr reports them. Each one is charged to the mount's inode space.
/// </summary>
/// <remarks>Guarded by the inode's lock.</remarks>
internal sealed class XattrList
{
    public const int MaxNameLength = 255; // XATTR_NAME_MAX
    public const int MaxValueSize = 65536; // XATTR_SIZE_MAX

    private readonly List<KeyValuePair<string, byte[]>> items = [];

    public int Count => items.Count;

    /// <summary>Inode space charged for the attributes held.</summary>
    public long ChargedIspace { get; set; }

    public IEnumerable<KeyValuePair<string, byte[]>> Items => items;

    public byte[]? Get(string name)
    {
        var i = IndexOf(name);
        return i < 0 ? null : items[i].Value;
    }

    /// <summary>Stores a value; returns the value it replaced, or null.</summary>
    public byte[]? Set(string name, byte[] value)
    {
        var i = IndexOf(name);
        if (i < 0)
        {
            items.Add(new(name, value));
            return null;
        }

        var old = items[i].Value;
        items[i] = new(name, value);
        return old;
    }

    public byte[]? Remove(string name)
    {
        var i = IndexOf(name);
        if (i < 0)
        {
            return null;
        }

        var old = items[i].Value;
        items.RemoveAt(i);
        return old;
    }

    /// <summary>simple_xattr_space(): what one attribute costs in inode space (40 + strlen(name) + size, no NUL).</summary>
    public static long Space(string name, int size) =>
        Superblock.XattrOverhead + System.Text.Encoding.UTF8.GetByteCount(name) + size;

    private int IndexOf(string name)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (string.Equals(items[i].Key, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
