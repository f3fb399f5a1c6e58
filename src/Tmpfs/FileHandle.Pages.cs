using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>Reads without a copy, for the FUSE server (see <see cref="PageCacheSpans"/>).</summary>
public sealed partial class FileHandle
{
    /// <summary>
    /// pread(2) without the copy: the frames of [<paramref name="offset"/>,
    /// <paramref name="offset"/> + <paramref name="count"/>) up to EOF, each with a reference
    /// (-1: reads as zeros), into <paramref name="pfns"/>; <paramref name="pages"/> of them are
    /// set. Returns the byte count read(2) would. The caller sends the bytes
    /// (<see cref="FrameAddress"/>) and then must call <see cref="PutPages"/>.
    /// </summary>
    internal int GetPages(long offset, int count, Span<int> pfns, out int pages)
    {
        CheckOpen();
        if (!CanRead)
        {
            TmpfsException.Throw(Errno.EBADF, "not open for reading");
        }

        CheckRange(offset, count);
        CheckRegular();
        lock (Inode)
        {
            CheckLive();
            var n = PageCacheSpans.GetPages(Inode, offset, count, pfns, out pages);
            if ((Flags & OpenFlags.NoAtime) == 0)
            {
                InodeAttributes.Accessed(Inode);
            }

            return n;
        }
    }

    /// <summary>The memory of a frame <see cref="GetPages"/> returned (native, never moved; valid while referenced).</summary>
    internal unsafe byte* FrameAddress(int pfn) => Inode.Sb.Frames.Address(pfn);

    /// <summary>Drops the references <see cref="GetPages"/> took.</summary>
    internal void PutPages(ReadOnlySpan<int> pfns) => PageCacheSpans.PutPages(Inode.Sb.Frames, pfns);
}
