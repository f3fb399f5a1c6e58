using System.Runtime.InteropServices;

namespace Tmpfs.Benchmarks.Stores;

/// <summary>
/// The ceiling: what any in-memory store must at least do. File data is a memcpy into a
/// native arena that is allocated and pre-faulted once and reused (each file owns one
/// fixed-size slot; freed slots are reused), names are one Dictionary lookup of the full
/// path. No permissions, no timestamps, no directory tree, no locking.
/// </summary>
internal sealed unsafe class CeilingStore : IStore, INativeMemory
{
    private readonly Dictionary<string, CeilingFile> _files;
    private readonly HashSet<string> _dirs = new(StringComparer.Ordinal) { "/" };
    private readonly Stack<long> _freeSlots = new();
    private readonly long _slotSize;
    private readonly long _arenaBytes;
    private byte* _arena;

    public CeilingStore(StoreShape shape)
    {
        _slotSize = shape.SlotSize;
        _files = new Dictionary<string, CeilingFile>(shape.Files, StringComparer.Ordinal);
        _arenaBytes = Math.Max(shape.DataBytes, 4096);
        var bytes = (nuint)_arenaBytes;
        _arena = (byte*)NativeMemory.AlignedAlloc(bytes, 4096);
        NativeMemory.Clear(_arena, bytes); // pre-fault every page
        for (var i = shape.Slots - 1; i >= 0; i--)
        {
            _freeSlots.Push(i * _slotSize);
        }
    }

    public long NativeBytes => _arena == null ? 0 : _arenaBytes;

    public void CreateDirectory(string path) => _dirs.Add(path);

    public void DeleteDirectory(string path) => _dirs.Remove(path);

    public IStoreFile Create(string path)
    {
        if (_files.TryGetValue(path, out var existing))
        {
            existing.Length = 0;
            return existing;
        }

        var file = new CeilingFile(this, _slotSize > 0 ? _freeSlots.Pop() : 0);
        _files.Add(path, file);
        return file;
    }

    public IStoreFile Open(string path, bool write) => _files[path];

    public void CreateEmpty(string path) => _files.Add(path, new CeilingFile(this, -1));

    public long GetLength(string path) => _files[path].Length;

    public void Delete(string path)
    {
        if (_files.Remove(path, out var file) && file.Slot >= 0 && _slotSize > 0)
        {
            _freeSlots.Push(file.Slot);
        }
    }

    public bool Exists(string path) => _files.ContainsKey(path);

    public void Dispose()
    {
        if (_arena != null)
        {
            NativeMemory.AlignedFree(_arena);
            _arena = null;
        }
    }

    private sealed class CeilingFile(CeilingStore owner, long slot) : IStoreFile
    {
        public long Slot { get; } = slot;

        public long Length { get; set; }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            if (Slot < 0 || offset + data.Length > owner._slotSize)
            {
                throw new InvalidOperationException("write past the ceiling slot");
            }

            data.CopyTo(new Span<byte>(owner._arena + Slot + offset, data.Length));
            Length = Math.Max(Length, offset + data.Length);
        }

        public int Read(Span<byte> buffer, long offset)
        {
            var n = (int)Math.Clamp(Length - offset, 0, buffer.Length);
            new ReadOnlySpan<byte>(owner._arena + Slot + offset, n).CopyTo(buffer);
            return n;
        }

        public void Dispose()
        {
        }
    }
}
