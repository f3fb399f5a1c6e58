namespace Tmpfs.Memory;

/// <summary>
/// A short-hold mutual exclusion lock for the places the kernel uses a spinlock_t: the
/// mapping's xa_lock, the LRU's lru_lock, the free list's zone lock and tmpfs's stat_lock.
/// Not recursive. Taken with <c>using (x.Hold()) { ... }</c>.
/// </summary>
/// <remarks>
/// Uncontended, entering is one compare-and-swap and leaving one atomic exchange, with no
/// owner bookkeeping in release builds. <see cref="System.Threading.Lock"/>, which this
/// replaces there, reads the thread's id from thread-local storage on every entry: an enter
/// and exit pair cost 16 ns against 6 ns for a bare compare-and-swap lock (a loop of 50
/// million on this machine), and a 4 KiB small-file write takes these locks four or five
/// times (12.6 % of its samples were in Lock.Enter and Lock.Exit). A user-space holder can be
/// preempted, which the kernel's spinlocks rule out: so a waiter spins only briefly and then
/// sleeps on a monitor until the holder's release wakes it, as <c>Shmem.RwSemaphore</c> does.
/// The sleeper count is raised (a full fence) before a sleeper's last look at the lock, and
/// read after the releaser's exchange, so no wake-up is lost. Debug builds record the owner,
/// assert against recursion and answer <see cref="IsHeldByCurrentThread"/> exactly.
/// </remarks>
[NoMonitorLock]
internal sealed class Spinlock
{
    private const int SpinLimit = 20;

    private readonly object gate = new(); // a monitor, for Wait and Pulse
    private int locked; // 1 while held
    private int sleepers;
#if DEBUG
    private int owner; // managed thread id of the holder, debug builds only
#endif

    /// <summary>
    /// Whether the calling thread holds the lock, for assertions. Exact in debug builds; in
    /// release builds (where assertions do not run) it only says whether anyone holds it.
    /// </summary>
    public bool IsHeldByCurrentThread =>
#if DEBUG
        Volatile.Read(ref locked) != 0 && owner == Environment.CurrentManagedThreadId;
#else
        Volatile.Read(ref locked) != 0;
#endif

    /// <summary>spin_lock, for a <c>using</c> block: the scope's end is spin_unlock.</summary>
    public Scope Hold()
    {
        Enter();
        return new Scope(this);
    }

    /// <summary>spin_lock.</summary>
    public void Enter()
    {
#if DEBUG
        System.Diagnostics.Debug.Assert(owner != Environment.CurrentManagedThreadId || Volatile.Read(ref locked) == 0, "Spinlock taken again by the thread that holds it");
#endif
        if (Interlocked.CompareExchange(ref locked, 1, 0) != 0)
        {
            Wait();
        }

#if DEBUG
        owner = Environment.CurrentManagedThreadId;
#endif
    }

    /// <summary>spin_unlock. Releasing a lock nobody holds throws and leaves it free.</summary>
    public void Exit()
    {
#if DEBUG
        System.Diagnostics.Debug.Assert(Volatile.Read(ref locked) == 0 || owner == Environment.CurrentManagedThreadId, "Spinlock released by a thread that does not hold it");
        owner = 0;
#endif
        if (Interlocked.Exchange(ref locked, 0) == 0)
        {
            throw new SynchronizationLockException("spinlock released but not held");
        }

        if (Volatile.Read(ref sleepers) != 0)
        {
            WakeOne();
        }
    }

    private bool TryEnter() => Volatile.Read(ref locked) == 0 && Interlocked.CompareExchange(ref locked, 1, 0) == 0;

    private void Wait()
    {
        for (var spin = 0; spin < SpinLimit; spin++)
        {
            Thread.SpinWait(1 << Math.Min(spin, 6));
            if (TryEnter())
            {
                return;
            }
        }

        lock (gate)
        {
            Interlocked.Increment(ref sleepers); // a full fence before the last look below
            var entered = false;
            try
            {
                while (!TryEnter())
                {
                    Monitor.Wait(gate);
                }

                entered = true;
            }
            finally
            {
                // A sleeper that leaves without the lock (interrupted in Monitor.Wait) may have
                // taken the one pulse a release sent: pass it on, or another sleeper could wait
                // for a release that already happened. A spare pulse costs a look and a sleep.
                if (Interlocked.Decrement(ref sleepers) != 0 && !entered)
                {
                    Monitor.Pulse(gate);
                }
            }
        }
    }

    // One sleeper is enough: the lock is exclusive, and whoever gets it wakes the next at its
    // own release. A sleeper that loses the race to a spinning thread sleeps again and is woken
    // by that thread's release, since it still counts as a sleeper.
    private void WakeOne() => MonitorGate.Wake(gate, all: false);

    /// <summary>A held lock, released when the scope is disposed.</summary>
    public readonly ref struct Scope(Spinlock held)
    {
        public void Dispose() => held.Exit();
    }
}
