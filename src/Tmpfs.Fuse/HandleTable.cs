namespace Tmpfs.Fuse;

/// <summary>
/// Open handles by the 64-bit fh the kernel echoes back: a slot array with a free list.
/// Lookups (every READ and WRITE) take no lock and allocate nothing; adding and removing
/// take the table's lock. Slot numbers are reused; the kernel never uses an fh after RELEASE.
/// </summary>
internal sealed class HandleTable<T>
    where T : class
{
    private readonly Lock gate = new();
    private readonly Stack<int> free = new();
    private T?[] slots = new T?[64];
    private int used;
    private int count;

    public int Count => Volatile.Read(ref count);

    public ulong Add(T item)
    {
        lock (gate)
        {
            int index;
            if (free.Count > 0)
            {
                index = free.Pop();
            }
            else
            {
                if (used == slots.Length)
                {
                    var grown = new T?[slots.Length * 2];
                    Array.Copy(slots, grown, slots.Length);
                    Volatile.Write(ref slots, grown);
                }

                index = used++;
            }

            Volatile.Write(ref slots[index], item);
            count++;
            return (ulong)index + 1;
        }
    }

    /// <summary>The handle for <paramref name="fh"/>, or null (EBADF for the caller).</summary>
    public T? Get(ulong fh)
    {
        var array = Volatile.Read(ref slots);
        return fh == 0 || fh > (ulong)array.Length ? null : Volatile.Read(ref array[(int)(fh - 1)]);
    }

    public T? Remove(ulong fh)
    {
        lock (gate)
        {
            if (fh == 0 || fh > (ulong)used || slots[(int)(fh - 1)] is not { } item)
            {
                return null;
            }

            slots[(int)(fh - 1)] = null;
            free.Push((int)(fh - 1));
            count--;
            return item;
        }
    }

    /// <summary>Takes every handle out of the table (shutdown).</summary>
    public List<T> Drain()
    {
        lock (gate)
        {
            var all = new List<T>();
            for (var i = 0; i < used; i++)
            {
                if (slots[i] is { } item)
                {
                    all.Add(item);
                    slots[i] = null;
                }
            }

            free.Clear();
            used = 0;
            count = 0;
            return all;
        }
    }
}
