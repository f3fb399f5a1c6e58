using System.Diagnostics;
using Tmpfs.Memory;

namespace Tmpfs.Shmem;

/// <summary>
/// A reader-writer lock after the kernel's rw_semaphore (kernel/locking/rwsem.c): readers
/// share it, a writer holds it alone, and a writer that waits holds off readers that come
/// after it, so a stream of lookups cannot starve an unlink. Not recursive: a thread that
/// holds it must not take it again. Debug builds assert it; release builds do not track
/// owners (reading the thread's id on every entry and exit cost an unlink 10 ns, measured),
/// so there a thread that asks again waits for itself. Releasing it while nobody holds it
/// that way throws SynchronizationLockException and leaves it as it was.
/// </summary>
/// <remarks>
/// Uncontended, each side is one compare-and-swap to enter and one atomic to leave, with
/// no owner bookkeeping. ReaderWriterLockSlim, which this replaces for the namespace lock,
/// looks up the thread's id and its lock count in thread-local storage on every entry: the
/// namespace lock is taken by every path operation, and that was 8 % of an unlink
/// (docs/benchmarks.md). Contended, a thread spins briefly (a holder's critical section is
/// short) and then sleeps on a monitor; whoever releases the lock wakes the sleepers, and
/// the count of sleepers is raised before a sleeper's last look at the lock and read after
/// the releaser's atomic change of it, so no wake-up is lost.
/// </remarks>
[NoMonitorLock]
internal sealed class RwSemaphore
{
    private const int Writer = -1; // count while a writer holds the lock
    private const int SpinLimit = 20;

    private readonly object gate = new(); // a monitor, for Wait and PulseAll
    private int count; // > 0: that many readers; Writer; 0: free
    private int writersWaiting;
    private int sleepers;

#if DEBUG
    [ThreadStatic]
    private static List<RwSemaphore>? heldByThread;
#endif

    /// <summary>Whether a writer waits for the lock (for tests and diagnostics).</summary>
    internal bool HasWaitingWriter => Volatile.Read(ref writersWaiting) != 0;

    /// <summary>down_read.</summary>
    public void EnterRead()
    {
        AssertNotHeld();
        if (!TryEnter(write: false))
        {
            Wait(write: false);
        }

        NoteHeld();
    }

    /// <summary>up_read.</summary>
    public void ExitRead()
    {
        var left = Interlocked.Decrement(ref count);
        if (left < 0)
        {
            Interlocked.Increment(ref count); // it was free or a writer's: leave it so
            throw new SynchronizationLockException("namespace read lock released but not held");
        }

        NoteReleased();

        if (left == 0 && Volatile.Read(ref sleepers) != 0)
        {
            WakeAll();
        }
    }

    /// <summary>down_write.</summary>
    public void EnterWrite()
    {
        AssertNotHeld();
        if (Interlocked.CompareExchange(ref count, Writer, 0) != 0)
        {
            Interlocked.Increment(ref writersWaiting);
            var entered = false;
            try
            {
                Wait(write: true);
                entered = true;
            }
            finally
            {
                // A writer that gave up waiting (an interrupted sleep) may have been all
                // that held readers off: let them look again.
                if (Interlocked.Decrement(ref writersWaiting) == 0 && !entered && Volatile.Read(ref sleepers) != 0)
                {
                    WakeAll();
                }
            }
        }

        NoteHeld();
    }

    /// <summary>up_write.</summary>
    public void ExitWrite()
    {
        if (Interlocked.CompareExchange(ref count, 0, Writer) != Writer)
        {
            throw new SynchronizationLockException("namespace write lock released but not held");
        }

        NoteReleased();

        if (Volatile.Read(ref sleepers) != 0)
        {
            WakeAll();
        }
    }

    private bool TryEnter(bool write)
    {
        if (write)
        {
            return Interlocked.CompareExchange(ref count, Writer, 0) == 0;
        }

        var seen = Volatile.Read(ref count);
        while (seen >= 0 && Volatile.Read(ref writersWaiting) == 0)
        {
            var was = Interlocked.CompareExchange(ref count, seen + 1, seen);
            if (was == seen)
            {
                return true;
            }

            seen = was;
        }

        return false;
    }

    private void Wait(bool write)
    {
        for (var spin = 0; spin < SpinLimit; spin++)
        {
            Thread.SpinWait(1 << Math.Min(spin, 6));
            if (TryEnter(write))
            {
                return;
            }
        }

        lock (gate)
        {
            Interlocked.Increment(ref sleepers); // a full fence before the last look below
            try
            {
                while (!TryEnter(write))
                {
                    Monitor.Wait(gate);
                }
            }
            finally
            {
                Interlocked.Decrement(ref sleepers);
            }
        }
    }

    private void WakeAll() => MonitorGate.Wake(gate, all: true);

    [Conditional("DEBUG")]
    private void AssertNotHeld()
    {
#if DEBUG
        Debug.Assert(heldByThread is null || !heldByThread.Contains(this), "RwSemaphore taken again by a thread that holds it");
#endif
    }

    [Conditional("DEBUG")]
    private void NoteHeld()
    {
#if DEBUG
        (heldByThread ??= []).Add(this);
#endif
    }

    [Conditional("DEBUG")]
    private void NoteReleased()
    {
#if DEBUG
        Debug.Assert(heldByThread is not null && heldByThread.Remove(this), "RwSemaphore released by a thread that does not hold it");
#endif
    }
}
