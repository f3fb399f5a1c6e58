using Tmpfs.Shmem;

namespace Tmpfs.Tests.Concurrency;

/// <summary>
/// The namespace lock (RwSemaphore): readers share it, a writer holds it alone, a waiting
/// writer holds off the readers that come after it, and contended threads that go to sleep
/// are woken (no lost wake-up: the test would hang and time out).
/// </summary>
public sealed class RwSemaphoreTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public void WritersExcludeEveryoneAndReadersShare()
    {
        var rw = new RwSemaphore();
        int readers = 0, writers = 0, violations = 0, sharedReads = 0;
        const int threads = 6, rounds = 40_000;
        var workers = Enumerable.Range(0, threads).Select(id => new Thread(() =>
        {
            var rng = new Random(id);
            for (var i = 0; i < rounds; i++)
            {
                if (rng.Next(4) == 0)
                {
                    rw.EnterWrite();
                    if (Interlocked.Increment(ref writers) != 1 || Volatile.Read(ref readers) != 0)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    Thread.SpinWait(rng.Next(50));
                    Interlocked.Decrement(ref writers);
                    rw.ExitWrite();
                }
                else
                {
                    rw.EnterRead();
                    if (Interlocked.Increment(ref readers) > 1)
                    {
                        Interlocked.Increment(ref sharedReads);
                    }

                    if (Volatile.Read(ref writers) != 0)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    Thread.SpinWait(rng.Next(50));
                    Interlocked.Decrement(ref readers);
                    rw.ExitRead();
                }

                if (i % 1000 == 0)
                {
                    Thread.Sleep(0); // let the threads interleave on few cores
                }
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        foreach (var t in workers)
        {
            Assert.True(t.Join(Patience), "a thread never got the lock (a lost wake-up or a deadlock)");
        }

        Assert.Equal(0, violations);
        Assert.True(sharedReads > 0, "readers never held the lock together");
    }

    [Fact]
    public void AWaitingWriterHoldsOffLaterReadersAndThenLetsThemIn()
    {
        var rw = new RwSemaphore();
        var order = new List<string>();
        rw.EnterRead(); // this thread: a reader already inside
        var writer = new Thread(() =>
        {
            rw.EnterWrite();
            lock (order)
            {
                order.Add("writer");
            }

            rw.ExitWrite();
        });
        writer.Start();
        SpinUntil(() => rw.HasWaitingWriter);

        var reader = new Thread(() =>
        {
            rw.EnterRead();
            lock (order)
            {
                order.Add("reader");
            }

            rw.ExitRead();
        });
        reader.Start();
        SpinUntil(() => reader.ThreadState.HasFlag(ThreadState.WaitSleepJoin)); // asleep behind the writer
        lock (order)
        {
            Assert.Empty(order);
        }

        rw.ExitRead();
        Assert.True(writer.Join(Patience) && reader.Join(Patience), "the writer or the reader was never woken");
        Assert.Equal(["writer", "reader"], order);
    }

    [Fact]
    public void AReaderWaitsForTheWriterAndAWriterForEveryReader()
    {
        var rw = new RwSemaphore();
        var entered = 0;
        rw.EnterWrite();
        var readers = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            rw.EnterRead();
            Interlocked.Increment(ref entered);
            rw.ExitRead();
        })).ToList();
        readers.ForEach(t => t.Start());
        SpinUntil(() => readers.All(t => t.ThreadState.HasFlag(ThreadState.WaitSleepJoin)));
        Assert.Equal(0, Volatile.Read(ref entered));
        rw.ExitWrite();
        foreach (var t in readers)
        {
            Assert.True(t.Join(Patience), "a reader was never woken by the writer's release");
        }

        Assert.Equal(3, entered);

        var readerInside = new ManualResetEventSlim();
        var readerMayLeave = new ManualResetEventSlim();
        var otherReader = new Thread(() =>
        {
            rw.EnterRead();
            readerInside.Set();
            readerMayLeave.Wait();
            rw.ExitRead();
        });
        otherReader.Start();
        readerInside.Wait();
        rw.EnterRead(); // two readers inside now
        var writerIn = 0;
        var writer = new Thread(() =>
        {
            rw.EnterWrite();
            Volatile.Write(ref writerIn, 1);
            rw.ExitWrite();
        });
        writer.Start();
        SpinUntil(() => writer.ThreadState.HasFlag(ThreadState.WaitSleepJoin));
        rw.ExitRead();
        Assert.Equal(0, Volatile.Read(ref writerIn)); // one reader is still inside
        readerMayLeave.Set();
        Assert.True(writer.Join(Patience) && otherReader.Join(Patience), "the writer was never woken by the last reader's release");
        Assert.Equal(1, writerIn);
    }

    [Fact]
    public void AWriterInterruptedWhileWaitingLetsTheReadersBehindItIn()
    {
        var rw = new RwSemaphore();
        rw.EnterRead();
        var writerInterrupted = false;
        var writer = new Thread(() =>
        {
            try
            {
                rw.EnterWrite();
                rw.ExitWrite();
            }
            catch (ThreadInterruptedException)
            {
                writerInterrupted = true;
            }
        });
        writer.Start();
        SpinUntil(() => writer.ThreadState.HasFlag(ThreadState.WaitSleepJoin));
        var entered = 0;
        var reader = new Thread(() =>
        {
            rw.EnterRead();
            Interlocked.Increment(ref entered);
            rw.ExitRead();
        });
        reader.Start();
        SpinUntil(() => reader.ThreadState.HasFlag(ThreadState.WaitSleepJoin)); // held off by the waiting writer
        writer.Interrupt();
        Assert.True(writer.Join(Patience), "the interrupted writer never returned");
        Assert.True(writerInterrupted, "the writer got the lock while a reader held it");
        Assert.True(reader.Join(Patience), "the reader behind the writer that gave up was never woken");
        Assert.Equal(1, entered);
        rw.ExitRead();
        rw.EnterWrite(); // free again
        rw.ExitWrite();
    }

    [Fact]
    public void ReleasingALockNotHeldThrowsAndLeavesItUsable()
    {
        var rw = new RwSemaphore();
        Assert.Throws<SynchronizationLockException>(rw.ExitRead);
        Assert.Throws<SynchronizationLockException>(rw.ExitWrite);
        rw.EnterWrite();
        rw.ExitWrite();
        rw.EnterRead();
        rw.ExitRead();
    }

    private static void SpinUntil(Func<bool> condition) =>
        Assert.True(SpinWait.SpinUntil(condition, Patience), "the threads never reached the state the test needs");
}
