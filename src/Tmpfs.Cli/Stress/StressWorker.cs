using System.Diagnostics;
using System.IO.Hashing;

namespace Tmpfs.Cli.Stress;

/// <summary>
/// One of the seed's shell loops, on a thread of its own: mount, write one file of a random
/// size in chunks (dd bs=1M), read it back and check every chunk, unmount; until stopped.
/// Threads rather than tasks: a worker blocks on page locks, in direct reclaim and on swap
/// I/O, and hundreds of such blocking tasks would starve the thread pool.
/// </summary>
internal sealed class StressWorker
{
    private const string FileName = "/test";

    private readonly int id;
    private readonly MemoryManager memory;
    private readonly StressOptions options;
    private readonly StressCounters counters;
    private readonly CancellationToken stop;
    private readonly Random rng;
    private readonly byte[] buffer;
    private readonly ulong[] hashes;
    private readonly string mountOptions;
    private long loop;

    public StressWorker(int id, MemoryManager memory, StressOptions options, StressCounters counters, CancellationToken stop)
    {
        this.id = id;
        this.memory = memory;
        this.options = options;
        this.counters = counters;
        this.stop = stop;
        rng = new Random(HashCode.Combine(options.Seed, id));
        buffer = GC.AllocateUninitializedArray<byte>(options.ChunkSize);
        hashes = new ulong[(options.MaxFile / options.ChunkSize) + 2];

        // size= large enough for the biggest file: only a full budget and full swap say ENOSPC.
        var blocks = (options.MaxFile + 4095) / 4096 + 16;
        mountOptions = $"nr_blocks={blocks},nr_inodes=16";
    }

    public void Run()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                RunLoop();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Unexpected("loop", e);
            }
        }
    }

    private void RunLoop()
    {
        FileSystem fs;
        try
        {
            fs = memory.Mount(mountOptions);
        }
        catch (TmpfsException e)
        {
            Unexpected("mount", e);
            stop.WaitHandle.WaitOne(100);
            return;
        }

        StressCounters.Add(ref counters.Mounts);
        var n = loop++;
        var key = DataPattern.Key(options.Seed, id, n);
        var size = rng.NextInt64(0, options.MaxFile + 1);
        var lazy = options.LazyUnmountEvery > 0 && rng.Next(options.LazyUnmountEvery) == 0;
        var check = options.CheckEvery > 0 && (n + id) % options.CheckEvery == 0; // staggered across workers
        var completed = false;
        FileHandle? file = null;
        try
        {
            file = fs.Open(FileName, OpenFlags.Create | OpenFlags.ReadWrite | OpenFlags.Truncate, 0x1A4 /* 0644 */);
            var written = Write(file, key, size, out var cut);
            if (!cut && Verify(file, key, written, n))
            {
                if (check)
                {
                    Fsck(fs, n);
                }

                completed = true;
            }
        }
        catch (TmpfsException e)
        {
            Unexpected($"loop {n}", e);
        }
        finally
        {
            if (lazy && file is not null)
            {
                // umount -l with the file open: the teardown runs at the last close.
                Unmount(fs, detach: true, n);
                Close(file, n);
            }
            else
            {
                if (file is not null)
                {
                    Close(file, n);
                }

                Unmount(fs, detach: false, n);
            }

            StressCounters.Add(ref completed ? ref counters.Loops : ref counters.LoopsCutShort);
        }
    }

    /// <summary>dd: chunk after chunk until the size, ENOSPC, or the stop. Returns the bytes written.</summary>
    private long Write(FileHandle file, ulong key, long size, out bool cut)
    {
        cut = false;
        long written = 0;
        var chunk = 0;
        while (written < size)
        {
            if (stop.IsCancellationRequested)
            {
                cut = true;
                break;
            }

            var length = (int)Math.Min(buffer.Length, size - written);
            DataPattern.Fill(buffer, key, written);
            int done;
            try
            {
                done = file.Write(buffer.AsSpan(0, length), written);
            }
            catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
            {
                NoteEnospc();
                break;
            }

            hashes[chunk++] = XxHash3.HashToUInt64(buffer.AsSpan(0, done));
            written += done;
            StressCounters.Add(ref counters.BytesWritten, done);
            if (done < length)
            {
                NoteEnospc(); // a short write: space ran out part way
                break;
            }
        }

        return written;
    }

    private void NoteEnospc()
    {
        StressCounters.Add(ref counters.EnospcWrites);
        var info = memory.MemInfo;
        if (info.SwapFree * 10 >= info.SwapTotal)
        {
            StressCounters.Add(ref counters.EnospcWritesWithSwapFree);
        }
    }

    /// <summary>
    /// Reads the file back chunk by chunk and compares each chunk's hash with the one taken
    /// when it was written. True when all of it verified; false when the stop or a memory
    /// stall cut it short, or it did not verify (counted).
    /// </summary>
    private bool Verify(FileHandle file, ulong key, long written, long n)
    {
        var st = file.Stat();
        if (st.Size != written)
        {
            Violation(ref counters.ReadErrors, $"worker {id} loop {n}: file size {st.Size} after writing {written} bytes");
            return false;
        }

        long offset = 0;
        var chunk = 0;
        while (offset < written)
        {
            if (stop.IsCancellationRequested)
            {
                return false;
            }

            var length = (int)Math.Min(buffer.Length, written - offset);
            var span = buffer.AsSpan(0, length);
            switch (ReadFully(file, span, offset, n))
            {
                case ReadOutcome.Stopped:
                    return false;
                case ReadOutcome.Failed:
                    return false;
            }

            if (XxHash3.HashToUInt64(span) != hashes[chunk])
            {
                var at = DataPattern.FirstMismatch(span, key, offset, out var expected, out var found);
                Violation(ref counters.DataMismatches, $"worker {id} loop {n}: data mismatch in chunk at {offset}: first bad byte at offset {at}, expected 0x{expected:x2}, read 0x{found:x2}");
                return false;
            }

            StressCounters.Add(ref counters.BytesVerified, length);
            offset += length;
            chunk++;
        }

        if (file.Read(buffer.AsSpan(0, 1), written) != 0)
        {
            Violation(ref counters.ReadErrors, $"worker {id} loop {n}: read past the end of a {written}-byte file returned data");
            return false;
        }

        StressCounters.Add(ref counters.FilesVerified);
        return true;
    }

    private enum ReadOutcome
    {
        Done,
        Stopped,
        Failed,
    }

    /// <summary>
    /// pread until the span is full. A swap-in that finds no free frame while swap is full too
    /// is ENOSPC: wait for other loops to unmount and retry, up to the stall limit.
    /// </summary>
    private ReadOutcome ReadFully(FileHandle file, Span<byte> span, long offset, long n)
    {
        var got = 0;
        Stopwatch? stalled = null;
        var backoff = 1;
        while (got < span.Length)
        {
            int r;
            try
            {
                r = file.Read(span[got..], offset + got);
            }
            catch (TmpfsException e) when (e.Errno is Errno.ENOSPC or Errno.ENOMEM)
            {
                if (stalled is null)
                {
                    stalled = Stopwatch.StartNew();
                    StressCounters.Add(ref counters.ReadStalls);
                }
                else if (stalled.Elapsed > options.ReadStallLimit)
                {
                    StressCounters.Add(ref counters.ReadsAbandoned);
                    return ReadOutcome.Failed;
                }

                if (stop.WaitHandle.WaitOne(backoff))
                {
                    return ReadOutcome.Stopped;
                }

                backoff = Math.Min(backoff * 2, 50);
                continue;
            }
            catch (TmpfsException e) when (e.Errno == Errno.EIO)
            {
                Violation(ref counters.ReadErrors, $"worker {id} loop {n}: EIO reading at {offset + got}: {e.Message}");
                return ReadOutcome.Failed;
            }

            if (r == 0)
            {
                Violation(ref counters.ReadErrors, $"worker {id} loop {n}: end of file at {offset + got}, before the {span.Length}-byte chunk at {offset} was read");
                return ReadOutcome.Failed;
            }

            got += r;
        }

        return ReadOutcome.Done;
    }

    private void Fsck(FileSystem fs, long n)
    {
        StressCounters.Add(ref counters.FsckRuns);
        var problems = fs.CheckConsistency();
        foreach (var p in problems)
        {
            Violation(ref counters.FsckProblems, $"worker {id} loop {n}: fsck: {p}");
        }
    }

    private void Close(FileHandle file, long n)
    {
        try
        {
            file.Dispose();
        }
        catch (InvalidOperationException e)
        {
            // The last close of a lazily unmounted mount runs its teardown and its checks.
            Violation(ref counters.UnmountViolations, $"worker {id} loop {n}: teardown at last close: {e.Message}");
        }
    }

    private void Unmount(FileSystem fs, bool detach, long n)
    {
        try
        {
            fs.Unmount(detach);
            StressCounters.Add(ref counters.Unmounts);
            if (detach)
            {
                StressCounters.Add(ref counters.LazyUnmounts);
            }
        }
        catch (InvalidOperationException e)
        {
            StressCounters.Add(ref counters.Unmounts);
            Violation(ref counters.UnmountViolations, $"worker {id} loop {n}: unmount: {e.Message}");
        }
        catch (TmpfsException e)
        {
            Unexpected($"loop {n} unmount", e);
        }
    }

    private void Violation(ref long counter, string text)
    {
        StressCounters.Add(ref counter);
        counters.Note(text);
    }

    private void Unexpected(string what, Exception e)
    {
        StressCounters.Add(ref counters.UnexpectedErrors);
        var where = e is TmpfsException ? "" : "\n" + string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(12));
        counters.Note($"worker {id} {what}: unexpected {e.GetType().Name}: {e.Message}{where}");
    }
}
