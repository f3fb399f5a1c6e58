using Tmpfs.Memory;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// The short-hold lock of the mapping, LRU, free list and stat counters (Spinlock): one
/// holder at a time, waiters that went to sleep are woken by the release (a lost wake-up
/// would hang the test until its join times out), and a release not held is refused.
/// </summary>
public sealed class SpinlockTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public void OneHolderAtATimeUnderContention()
    {
        var spin = new Spinlock();
        int inside = 0, violations = 0;
        long counter = 0;
        const int threads = 6, rounds = 40_000;
        var workers = Enumerable.Range(0, threads).Select(id => new Thread(() =>
        {
            var rng = new Random(id);
            for (var i = 0; i < rounds; i++)
            {
                using (spin.Hold())
                {
                    if (Interlocked.Increment(ref inside) != 1)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    counter++; // not atomic: only exclusion keeps the count right
                    Thread.SpinWait(rng.Next(40));
                    Interlocked.Decrement(ref inside);
                }

                if (i % 1000 == 0)
                {
                    Thread.Sleep(0); // let the threads interleave on few cores
                }
            }
        })
        { IsBackground = true }).ToList();
        workers.ForEach(t => t.Start());
        foreach (var t in workers)
        {
            Assert.True(t.Join(Patience), "a thread never got the lock (a lost wake-up or a deadlock)");
        }

        Assert.Equal(0, violations);
        Assert.Equal((long)threads * rounds, counter);
        AssertFree(spin);
    }

    [Fact]
    public void SleepingWaitersAreWokenByTheRelease()
    {
        // Held long enough that every waiter stops spinning and sleeps on the monitor; each
        // then gets the lock in turn, which only happens if every release wakes one of them.
        var spin = new Spinlock();
        var got = 0;
        spin.Enter();
        var waiters = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            using (spin.Hold())
            {
                Interlocked.Increment(ref got);
                Thread.Sleep(5);
            }
        })
        { IsBackground = true }).ToList();
        waiters.ForEach(t => t.Start());
        Thread.Sleep(200);
        Assert.Equal(0, Volatile.Read(ref got));
        spin.Exit();
        foreach (var t in waiters)
        {
            Assert.True(t.Join(Patience), "a sleeping waiter was never woken");
        }

        Assert.Equal(4, got);
    }

    [Fact]
    public void ReleasingALockNotHeldThrowsAndLeavesItFree()
    {
        var spin = new Spinlock();
        Assert.Throws<SynchronizationLockException>(spin.Exit);
        using (spin.Hold())
        {
            Assert.True(spin.IsHeldByCurrentThread);
        }

        Assert.False(spin.IsHeldByCurrentThread);
    }

    [Fact]
    public void AnInterruptedSleeperGivesUpWithoutTheLock()
    {
        var spin = new Spinlock();
        spin.Enter();
        Exception? caught = null;
        var sleeper = new Thread(() =>
        {
            try
            {
                spin.Enter();
                spin.Exit();
            }
            catch (ThreadInterruptedException e)
            {
                caught = e;
            }
        })
        { IsBackground = true };
        sleeper.Start();
        Thread.Sleep(200); // past its spinning: asleep on the monitor
        sleeper.Interrupt();
        Assert.True(sleeper.Join(Patience));
        Assert.IsType<ThreadInterruptedException>(caught);

        // The holder still holds it, and its release leaves the lock usable.
        Assert.True(spin.IsHeldByCurrentThread);
        spin.Exit();
        AssertFree(spin);
    }

    // The lock can be taken, by another thread, within the patience.
    private static void AssertFree(Spinlock spin)
    {
        var taker = new Thread(() => spin.Hold().Dispose()) { IsBackground = true };
        taker.Start();
        Assert.True(taker.Join(Patience), "the lock was left held");
    }
}
