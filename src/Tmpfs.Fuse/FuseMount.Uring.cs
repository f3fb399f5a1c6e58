using System.Globalization;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse;

/// <summary>FUSE over io_uring: the queues started after INIT, and the enable_uring module parameter.</summary>
public sealed partial class FuseMount
{
    // enable_uring is system-wide. With IoUring=On a mount switches it to Y for its INIT
    // and back once the INIT reply was processed (fc->io_uring is then set, and the
    // connection keeps io_uring: fuse_uring_cmd checks !enable_uring && !fc->io_uring).
    // Mounts of this process that overlap share the switch: the last one puts it back.
    // ParameterGate guards parameterUsers and parameterSwitched; it is a leaf lock (nothing
    // else is taken under it), as are `workers` (FuseMount) and the session's queue list.
    private static readonly Lock ParameterGate = new();
    private static int parameterUsers;
    private static bool parameterSwitched;
    private bool holdsParameter;
    private List<UringQueue> rings = [];

    /// <summary>True when the mount negotiated FUSE over io_uring at INIT.</summary>
    public bool UsesIoUring => session.UsesIoUring;

    /// <summary>Requests served through the io_uring queues so far (0 without io_uring).</summary>
    public long RingRequests
    {
        get
        {
            long n = 0;
            lock (workers)
            {
                foreach (var w in workers)
                {
                    if (w.Queue is not null)
                    {
                        for (var i = 0; i < w.RequestCounts.Length; i++)
                        {
                            n += Volatile.Read(ref w.RequestCounts[i]);
                        }
                    }
                }
            }

            return n;
        }
    }

    /// <summary>Whether this kernel lets new FUSE connections use io_uring (null: not built in).</summary>
    public static bool? IoUringEnabled()
    {
        try
        {
            return File.Exists(FuseUring.EnableParameter) ? File.ReadAllText(FuseUring.EnableParameter).Trim() == "Y" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// enable_uring when no io_uring mount of this process holds it for its INIT (then it is
    /// as it was before any of them switched it), waiting up to <paramref name="timeout"/> for
    /// such a moment; null when that never came or the parameter does not exist. For tests,
    /// which run mounts of other tests meanwhile.
    /// </summary>
    internal static bool? IoUringEnabledAtRest(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (ParameterGate)
            {
                if (parameterUsers == 0)
                {
                    return IoUringEnabled();
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                return null;
            }

            Thread.Sleep(10);
        }
    }

    /// <summary>The possible CPUs (/sys/devices/system/cpu/possible): the kernel's number of queues (num_possible_cpus).</summary>
    internal static int PossibleCpus()
    {
        try
        {
            return CountCpus(File.ReadAllText("/sys/devices/system/cpu/possible"));
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return Environment.ProcessorCount;
        }
    }

    /// <summary>The CPUs in a cpulist ("0-3,8-11" is 8): num_possible_cpus() counts the mask's bits.</summary>
    internal static int CountCpus(string cpulist)
    {
        var n = 0;
        foreach (var range in cpulist.Trim().Split(','))
        {
            var ends = range.Split('-');
            var first = int.Parse(ends[0], CultureInfo.InvariantCulture);
            var last = ends.Length > 1 ? int.Parse(ends[1], CultureInfo.InvariantCulture) : first;
            n += last - first + 1;
        }

        return n;
    }

    private void AcquireUringParameter()
    {
        if (Options.IoUring != FuseIoUring.On)
        {
            return;
        }

        lock (ParameterGate)
        {
            // Read under the gate: another mount of this process may be putting it back.
            if (IoUringEnabled() is not { } enabled)
            {
                return;
            }

            if (parameterUsers == 0 && !enabled)
            {
                try
                {
                    File.WriteAllText(FuseUring.EnableParameter, "Y");
                    parameterSwitched = true;
                    session.Log($"fuse: io_uring=on: set {FuseUring.EnableParameter} to Y (system-wide) for the INIT of {MountPoint}; it goes back to N after it");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    session.Log($"fuse: io_uring=on: cannot set {FuseUring.EnableParameter} ({e.Message}); serving through /dev/fuse");
                    return;
                }
            }

            parameterUsers++;
            holdsParameter = true;
        }
    }

    private void ReleaseUringParameter()
    {
        lock (ParameterGate)
        {
            if (!holdsParameter)
            {
                return;
            }

            holdsParameter = false;
            if (--parameterUsers == 0 && parameterSwitched)
            {
                parameterSwitched = false;
                try
                {
                    File.WriteAllText(FuseUring.EnableParameter, "N");
                    session.Log($"fuse: io_uring=on: set {FuseUring.EnableParameter} back to N");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    session.Log($"fuse: io_uring=on: cannot set {FuseUring.EnableParameter} back to N: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// Before the INIT reply (on the /dev/fuse thread answering it), when the kernel offers
    /// io_uring: one queue per possible CPU, each thread setting up its ring. True when all
    /// did; otherwise they are stopped and INIT does not ask for io_uring. The kernel moves
    /// requests to the rings only once every queue has an entry registered (is_ring_ready);
    /// until then, and for FORGET, INTERRUPT and notifications always, /dev/fuse serves.
    /// </summary>
    private bool PrepareRings(int deviceFd)
    {
        var count = PossibleCpus();
        var depth = Math.Clamp(Options.IoUringQueueDepth, 1, 64);
        var started = new List<UringQueue>();
        for (var q = 0; q < count; q++)
        {
            var queue = new UringQueue(session, deviceFd, q, depth, FuseSession.MaxWrite, Options.IoUringPinThreads);
            var w = new Worker(session, -1, FuseProtocol.MinReadBuffer, FuseSession.ReplyCapacity, queue: queue);
            lock (workers)
            {
                workers.Add(w);
            }

            session.RingWorkerStarting(queue);
            w.Start($"fuse-ring {q}");
            started.Add(queue);
        }

        var ok = true;
        foreach (var q in started)
        {
            ok &= q.WaitCreated(TimeSpan.FromSeconds(10));
        }

        if (!ok)
        {
            foreach (var q in started)
            {
                q.Stop();
            }
        }

        rings = ok ? started : [];
        return ok;
    }

    /// <summary>After the INIT reply was processed: the queues register their entries.</summary>
    private void StartRings()
    {
        ReleaseUringParameter();
        if (rings.Count > 0)
        {
            session.Log($"fuse: {MountPoint} served over io_uring: {rings.Count} queues of {Math.Clamp(Options.IoUringQueueDepth, 1, 64)} entries");
        }

        foreach (var q in rings)
        {
            q.Go();
        }

        if (rings.Count > 0)
        {
            lock (workers)
            {
                foreach (var w in workers)
                {
                    if (w.Queue is null)
                    {
                        w.StopPolling();
                    }
                }
            }
        }
    }
}
