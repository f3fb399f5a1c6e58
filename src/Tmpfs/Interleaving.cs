using System.Runtime.CompilerServices;

namespace Tmpfs;

/// <summary>
/// A scheduler that systematic concurrency tests install on the threads they control
/// (tests/Tmpfs.Tests/Systematic drives it with Microsoft.Coyote). The engine knows
/// nothing of Coyote: it only reports where its synchronization matters.
/// </summary>
internal interface IInterleaver
{
    /// <summary>Another controlled thread may run here.</summary>
    void Point();

    /// <summary>
    /// The calling thread cannot go on until <paramref name="ready"/> holds (it must be a
    /// pure read); the scheduler runs others meanwhile and reports a deadlock when no
    /// controlled thread can go on.
    /// </summary>
    void WaitUntil(Func<bool> ready);

    /// <summary>A busy-wait step (a lock whose state cannot be read without taking it).</summary>
    void Spin();
}

/// <summary>
/// The engine's scheduling points: where a systematic test may switch threads (before a
/// page lock, the swaplist lock, an inode lock, between the steps of writepage, swap-in,
/// unuse and eviction), and the few blocking waits that must not block for real while
/// a test controls the thread.
/// </summary>
/// <remarks>
/// Zero cost when unused: <see cref="Current"/> is a thread-static that only test threads
/// set, so production threads pay one null check per point, and a test in one thread
/// never affects threads it does not control. A controlled thread is paused only at these
/// points, so a lock never held across a point (the mapping lock, the swaplist lock, the
/// leaf locks of the swap space and LRU) is never seen taken by a paused thread and needs
/// no help; a lock held across points (the page lock, an inode's lock) and a condition
/// wait (eviction waiting for stop_eviction) go through the scheduler instead of blocking
/// in a primitive it cannot see. See docs/concurrency-testing.md.
/// </remarks>
internal static class Interleaving
{
    [ThreadStatic]
    private static IInterleaver? current;

    /// <summary>The scheduler controlling this thread, or null (always, outside tests).</summary>
    public static IInterleaver? Current
    {
        get => current;
        set => current = value;
    }

    /// <summary>A scheduling point.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Point() => current?.Point();

    /// <summary>Monitor.Enter for a lock that is held across scheduling points.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Enter(object monitor)
    {
        var s = current;
        if (s is null)
        {
            Monitor.Enter(monitor);
            return;
        }

        EnterScheduled(s, monitor);
    }

    // Apart from Enter so that its closure, which C# allocates on entry to the method that
    // declares it, costs nothing outside tests (it was 24 bytes on every unlink).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EnterScheduled(IInterleaver s, object monitor)
    {
        s.Point();
        while (!Monitor.TryEnter(monitor))
        {
            // Free when it can be taken (a probe from the holder's own thread may say so
            // wrongly, as monitors are reentrant: then this thread just tries again).
            s.WaitUntil(() =>
            {
                if (!Monitor.TryEnter(monitor))
                {
                    return false;
                }

                Monitor.Exit(monitor);
                return true;
            });
        }
    }

    /// <summary>
    /// <c>while (!ready()) Monitor.Wait(monitor)</c> on a lock held by the caller: under a
    /// scheduler the lock is let go and the thread waits through the scheduler instead.
    /// </summary>
    public static void WaitFor(object monitor, Func<bool> ready)
    {
        var s = current;
        while (!ready())
        {
            if (s is null)
            {
                Monitor.Wait(monitor);
                continue;
            }

            Monitor.Exit(monitor);
            s.WaitUntil(ready);
            Monitor.Enter(monitor);
        }
    }
}
