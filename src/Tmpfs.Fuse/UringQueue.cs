using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmpfs.Fuse.Wire;

namespace Tmpfs.Fuse;

/// <summary>
/// One FUSE-over-io_uring queue (fs/fuse/dev_uring.c): the kernel keeps one queue per
/// possible CPU and hands a request to the queue of the CPU its caller runs on
/// (fuse_uring_task_to_queue). This thread owns the queue's ring and <c>depth</c> entries,
/// each a header buffer (fuse_uring_req_header) and a payload buffer of max_write bytes,
/// registered with FUSE_IO_URING_CMD_REGISTER. A request arrives as the completion of an
/// entry's pending command; it is handled inline by <see cref="FuseSession.Dispatch"/> and
/// answered with FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also re-arms the entry.
/// </summary>
/// <remarks>
/// Entry memory: [0, 288) the header buffer; the payload buffer at <see cref="PayloadOffset"/>.
/// The handlers parse one contiguous message (in_header, the opcode's struct, names or data),
/// so the in_header and op_in are copied to just before the payload, which stays in place.
/// The thread ends when every entry's command came back with an error (the kernel tears the
/// queues down on unmount or abort: fuse_uring_stop_queues completes them with ENOTCONN) or
/// when <see cref="Stop"/> is called (the /dev/fuse threads have seen the connection end).
/// </remarks>
internal sealed unsafe class UringQueue : IDisposable
{
    public const int PayloadOffset = 4096;
    private const ulong StopTag = ulong.MaxValue;
    private const int EAGAIN = 11;
    private const int EBUSY = 16;
    private const int ENOTCONN = 107;
    private const int ECONNABORTED = 103;

    private readonly FuseSession session;
    private readonly int deviceFd;
    private readonly int payloadCapacity;
    private readonly byte*[] entries;
    private readonly ulong[] commitIds;
    private readonly bool[] registered;
    private readonly Native.IoVec* vectors;
    private readonly bool pin;
    private readonly ManualResetEventSlim created = new(false);
    private readonly ManualResetEventSlim go = new(false);
    private volatile bool createdOk;
    private volatile bool cancelled;
    private int stopFd;

    public UringQueue(FuseSession session, int deviceFd, int qid, int depth, int payloadCapacity, bool pin)
    {
        this.session = session;
        this.deviceFd = deviceFd;
        Qid = qid;
        this.payloadCapacity = payloadCapacity;
        this.pin = pin;
        entries = new byte*[depth];
        commitIds = new ulong[depth];
        registered = new bool[depth];
        vectors = (Native.IoVec*)NativeMemory.AllocZeroed((nuint)(2 * depth * sizeof(Native.IoVec)));
        for (var i = 0; i < depth; i++)
        {
            // Untouched pages of the payload cost nothing until a large request uses them.
            entries[i] = (byte*)NativeMemory.AlignedAlloc((nuint)(PayloadOffset + payloadCapacity), 4096);
            vectors[2 * i].Base = entries[i];
            vectors[2 * i].Length = (nuint)FuseUring.ReqHeaderSize;
            vectors[(2 * i) + 1].Base = entries[i] + PayloadOffset;
            vectors[(2 * i) + 1].Length = (nuint)payloadCapacity;
        }

        stopFd = Native.EventFd(0, Native.O_CLOEXEC);
    }

    public int Qid { get; }

    // Setup flags beyond SQE128: none. SINGLE_ISSUER|DEFER_TASKRUN(|TASKRUN_FLAG) and
    // COOP_TASKRUN|TASKRUN_FLAG measured no better than plain setup (docs/fuse.md), as
    // libfuse also found.
    private const uint SetupFlags = 0;

    /// <summary>
    /// Waits until the thread has set up its ring (true) or failed to (false). Asked before
    /// the INIT reply: once a connection negotiated io_uring, the kernel holds every request
    /// until each queue has an entry registered (fuse_block_alloc), so a mount must not ask
    /// for it unless every queue can register.
    /// </summary>
    public bool WaitCreated(TimeSpan timeout) => created.Wait(timeout) && createdOk;

    /// <summary>The INIT reply was processed: register the entries (fuse_uring_cmd answers EAGAIN before).</summary>
    public void Go() => go.Set();

    /// <summary>Wakes the thread so that it ends (its pending commands are cancelled when the ring closes).</summary>
    public void Stop()
    {
        cancelled = true;
        go.Set();
        ulong one = 1;
        if (stopFd >= 0)
        {
            Native.Write(stopFd, &one, sizeof(ulong));
        }
    }

    /// <summary>The queue's loop, on the worker's thread; returns when the queue is done.</summary>
    public void Run(Worker w)
    {
        if (pin && Qid < 64)
        {
            // The caller on this CPU wakes us on the same CPU: no idle vCPU to wake.
            var mask = 1UL << Qid;
            Native.SchedSetAffinity(0, sizeof(ulong), &mask);
        }

        // On this thread: with SINGLE_ISSUER the ring belongs to the task that created it.
        var ring = IoUring.Create((uint)entries.Length + 1, SetupFlags, out var errno);
        createdOk = ring is not null && stopFd >= 0;
        created.Set();
        if (ring is null)
        {
            session.Log($"fuse: io_uring_setup failed (errno {errno}); io_uring not negotiated, requests stay on /dev/fuse");
            return;
        }

        try
        {
            go.Wait();
            if (!cancelled)
            {
                Serve(w, ring);
            }
        }
        finally
        {
            ring.Dispose(); // cancels commands still pending (fuse_uring_cancel)
        }
    }

    private void Serve(Worker w, IoUring ring)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            Register(ring, i);
        }

        IoUring.PreparePollAdd(ring.NextSqe(), stopFd, (uint)Native.POLLIN, StopTag);
        var live = entries.Length;
        var firstError = 0;
        while (live > 0)
        {
            var rc = WaitForCompletions(ring);
            if (rc == -EAGAIN || rc == -EBUSY)
            {
                Thread.Sleep(1); // no memory for the submission now, or completions to reap first
                continue;
            }

            if (rc < 0 && rc != -Native.EINTR)
            {
                QueueEnds($"io_uring_enter of queue {Qid} failed with errno {-rc}");
                return;
            }

            while (ring.TryTakeCompletion(out var tag, out var result))
            {
                if (tag == StopTag)
                {
                    return;
                }

                var i = (int)tag;
                if (result == 0)
                {
                    registered[i] = true;
                    Handle(w, ring, i);
                }
                else if (result == -EAGAIN || result == -Native.EINTR)
                {
                    // REGISTER before the INIT reply was processed (fc->initialized): try again.
                    Thread.Sleep(1);
                    Resubmit(ring, i);
                }
                else
                {
                    live--;
                    if (result != -ENOTCONN && result != -ECONNABORTED)
                    {
                        // Not the end of the connection: the entry is lost. A REGISTER refused
                        // leaves the ring short of ready, and the kernel keeps serving through
                        // /dev/fuse (tested); a queue that served and lost its last entry
                        // would strand its CPU's callers.
                        firstError = firstError == 0 ? -result : firstError;
                        var what = $"io_uring {(registered[i] ? "commit" : "registration")} of queue {Qid} failed with errno {-result}";
                        if (live == 0)
                        {
                            QueueEnds(what);
                        }
                        else
                        {
                            session.Log($"fuse: {what}; the queue goes on with {live} entries");
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The queue cannot serve any more while the connection lives. Once it has served, the
    /// kernel sends its CPU's requests to it and they would wait for ever: abort the
    /// connection (callers get ENOTCONN). If it never served (its REGISTERs were refused), the
    /// ring never became ready and /dev/fuse serves everything.
    /// </summary>
    private void QueueEnds(string why)
    {
        if (Array.IndexOf(registered, true) >= 0)
        {
            session.RingFailed?.Invoke(why);
        }
        else
        {
            session.Log($"fuse: {why}; requests stay on /dev/fuse");
        }
    }

    /// <summary>
    /// Submits the pending commits and waits for a completion. No poll before sleeping, unlike
    /// the /dev/fuse threads: with the thread on its queue's CPU, the caller wakes it on the
    /// same CPU (no idle vCPU to wake), and a measured 50 µs poll changed nothing.
    /// </summary>
    private static int WaitForCompletions(IoUring ring) => ring.Enter(1, getEvents: true);

    private void Register(IoUring ring, int i)
    {
        var cmd = IoUring.PrepareUringCmd(ring.NextSqe(), deviceFd, FuseUring.CmdRegister, (ulong)i, (ulong)(vectors + (2 * i)), 2);
        ref var req = ref Unsafe.AsRef<UringCmdReq>(cmd);
        req.Qid = (ushort)(session.Options.IoUringRegisterQid?.Invoke(Qid) ?? Qid);
    }

    private void Commit(IoUring ring, int i)
    {
        var cmd = IoUring.PrepareUringCmd(ring.NextSqe(), deviceFd, FuseUring.CmdCommitAndFetch, (ulong)i);
        ref var req = ref Unsafe.AsRef<UringCmdReq>(cmd);
        req.Qid = (ushort)Qid;
        req.CommitId = commitIds[i];
    }

    private void Resubmit(IoUring ring, int i)
    {
        if (registered[i])
        {
            Commit(ring, i);
        }
        else
        {
            Register(ring, i);
        }
    }

    /// <summary>One request: made contiguous, dispatched, its reply committed (fuse_uring_commit_fetch).</summary>
    private void Handle(Worker w, IoUring ring, int i)
    {
        var header = entries[i];
        var payload = header + PayloadOffset;
        ref readonly var inHeader = ref Unsafe.AsRef<InHeader>(header);
        ref readonly var inOut = ref Unsafe.AsRef<UringEntInOut>(header + FuseUring.EntInOutOffset);
        commitIds[i] = inOut.CommitId;
        var unique = inHeader.Unique;
        var length = inHeader.Len;
        var payloadSize = inOut.PayloadSize;

        // fuse_uring_args_to_ring: in_args[0] went to op_in (when not empty), the rest to the
        // payload; in_header.len counts them all, so op_in's size is what is left.
        var opSize = (long)length - Request.HeaderSize - payloadSize;
        w.Reply.TargetRing(header, payload, payloadCapacity);
        if (opSize < 0 || opSize > FuseUring.OpInSize || payloadSize > payloadCapacity)
        {
            Interlocked.Increment(ref session.ProtocolErrors);
            session.Log($"fuse: io_uring request {unique} of {length} bytes with {payloadSize} of payload is malformed");
            w.Reply.SendError(unique, Native.EIO);
        }
        else
        {
            var message = payload - Request.HeaderSize - opSize;
            Unsafe.CopyBlockUnaligned(message, header, (uint)Request.HeaderSize);
            Unsafe.CopyBlockUnaligned(message + Request.HeaderSize, header + FuseUring.InOutHeaderSize, (uint)opSize);
            session.Dispatch(w, new ReadOnlySpan<byte>(message, (int)length));
            if (!w.Reply.RingReplied)
            {
                // Requests without a reply (FORGET, INTERRUPT) stay on /dev/fuse; should one
                // come here, the entry still needs its commit to take the next request.
                w.Reply.SendError(unique, Native.EIO);
            }
        }

        Commit(ring, i);
    }

    public void Dispose()
    {
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i] != null)
            {
                NativeMemory.AlignedFree(entries[i]);
                entries[i] = null;
            }
        }

        NativeMemory.Free(vectors);
        if (stopFd >= 0)
        {
            Native.Close(stopFd);
            stopFd = -1;
        }

        created.Dispose();
        go.Dispose();
    }
}
