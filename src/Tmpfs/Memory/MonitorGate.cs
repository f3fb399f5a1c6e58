namespace Tmpfs.Memory;

/// <summary>
/// The wake-up half of the engine's own locks (<see cref="Spinlock"/>, Shmem.RwSemaphore): their
/// waiters sleep on a plain monitor, the gate, after a short spin, and a release that sees
/// sleepers pulses it.
/// </summary>
internal static class MonitorGate
{
    /// <summary>
    /// Pulses one sleeper, or all of them. The lock is already released and its holder's
    /// critical section done when this runs: an interrupt while taking the gate must cost
    /// neither a sleeper its wake-up nor the releasing thread the work after its release (a page
    /// left locked, a charge not made), so the pulse is retried and the interrupt left pending
    /// for the thread's next wait instead of thrown from the release.
    /// </summary>
    public static void Wake(object gate, bool all)
    {
        var interrupted = false;
        while (true)
        {
            try
            {
                lock (gate)
                {
                    if (all)
                    {
                        Monitor.PulseAll(gate);
                    }
                    else
                    {
                        Monitor.Pulse(gate);
                    }
                }

                break;
            }
            catch (ThreadInterruptedException)
            {
                interrupted = true;
            }
        }

        if (interrupted)
        {
            Thread.CurrentThread.Interrupt();
        }
    }
}
