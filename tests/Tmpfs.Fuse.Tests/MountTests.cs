using System.Diagnostics;
using System.Text;

namespace Tmpfs.Fuse.Tests;

/// <summary>Real programs and System.IO on a mounted tmpfs of the engine.</summary>
public sealed class MountTests
{
    private static readonly TimeSpan RestTimeout = TimeSpan.FromSeconds(20);

    private static void Ok((int Exit, string Out, string Err) r, MountedTmpfs m)
    {
        Assert.True(r.Exit == 0, $"exit {r.Exit}\nstdout: {r.Out}\nstderr: {r.Err}\nserver log: {m.Log}");
    }

    [SkippableFact]
    public void CoreutilsWork()
    {
        using var m = new MountedTmpfs();
        Ok(m.Sh("""
            set -e
            mkdir -p a/b/c
            echo hello > a/b/c/f
            ln -s b/c/f a/link
            test "$(cat a/link)" = hello
            test "$(readlink a/link)" = b/c/f
            ln a/b/c/f a/hard
            test "$(stat -c %h a/hard)" = 2
            cp a/b/c/f copy
            cmp copy a/hard
            mv copy moved
            test ! -e copy
            touch -d '2001-02-03 04:05:06' moved
            test "$(stat -c %Y moved)" = "$(date -d '2001-02-03 04:05:06' +%s)"
            chmod 640 moved
            test "$(stat -c %a moved)" = 640
            truncate -s 10000 moved
            test "$(stat -c %s moved)" = 10000
            dd if=/dev/zero of=big bs=1M count=8 status=none
            test "$(stat -c %s big)" = 8388608
            dd if=big of=/dev/null bs=1M status=none
            mkfifo fifo
            test -p fifo
            rm -r a
            test ! -e a
            ls -la > /dev/null
            """), m);
        Assert.Equal(8L << 20, m.Fs.Stat("/big").Size);
        Assert.Equal(0, m.Mount.Unmount());
        Assert.Equal(0, m.Fs.UsedBytes);
    }

    [SkippableFact]
    public void SystemIoRoundTrip()
    {
        using var m = new MountedTmpfs();
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(m.At("data"), data);
        Assert.Equal(data, File.ReadAllBytes(m.At("data")));
        Assert.Equal(data, m.Fs.GetType() is not null ? ReadEngine(m.Fs, "/data", data.Length) : null);

        Directory.CreateDirectory(m.At("d1/d2"));
        for (var i = 0; i < 300; i++)
        {
            File.WriteAllText(m.At($"d1/d2/file{i}"), i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var names = Directory.GetFiles(m.At("d1/d2")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(300, names.Count);
        Assert.Equal("42", File.ReadAllText(m.At("d1/d2/file42")));
        File.Move(m.At("d1/d2/file1"), m.At("moved"));
        Assert.Equal("1", File.ReadAllText(m.At("moved")));
        Directory.Delete(m.At("d1"), recursive: true);
        Assert.False(Directory.Exists(m.At("d1")));

        using (var fs = new FileStream(m.At("append"), FileMode.Append))
        {
            fs.Write("ab"u8);
        }

        using (var fs = new FileStream(m.At("append"), FileMode.Append))
        {
            fs.Write("cd"u8);
        }

        Assert.Equal("abcd", File.ReadAllText(m.At("append")));
        Assert.Equal(0, m.Mount.Unmount());
    }

    /// <summary>
    /// READ replies are sent from the engine's page frames (holes from a zero page): a file the
    /// kernel has never cached, with data, holes and fallocated pages, reads back right at any
    /// offset and length, and every frame reference is returned (unmount checks the budget).
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsFromThePageFramesMatchTheFile(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        var expected = new byte[3 << 20];
        var rnd = new Random(11);
        using (var h = m.Fs.Open("/sparse", OpenFlags.Create | OpenFlags.ReadWrite, 420))
        {
            for (var i = 0; i < 40; i++)
            {
                var chunk = new byte[rnd.Next(1, 40_000)];
                rnd.NextBytes(chunk);
                var at = rnd.Next(0, expected.Length - chunk.Length);
                chunk.CopyTo(expected, at);
                h.Write(chunk, at);
            }

            h.Fallocate(FallocateMode.KeepSize, 1 << 20, 64 << 10); // reads as zeros where not written
            h.Truncate(expected.Length);
        }

        using (var f = File.OpenHandle(m.At("sparse")))
        {
            var buffer = new byte[1 << 20];
            for (var i = 0; i < 200; i++)
            {
                var offset = rnd.Next(0, expected.Length + 4096);
                var length = rnd.Next(1, buffer.Length);
                var n = RandomAccess.Read(f, buffer.AsSpan(0, length), offset);
                var want = Math.Max(0, Math.Min(length, expected.Length - offset));
                Assert.Equal(want, n);
                Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(Math.Min(offset, expected.Length), n)), $"bytes differ at {offset}+{length}");
            }
        }

        Assert.Equal(expected, File.ReadAllBytes(m.At("sparse")));

        // O_DIRECT bypasses the kernel's page cache, so READs arrive at unaligned offsets
        // and lengths and start or end inside a page.
        var copy = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(copy, expected);
            Ok(m.Sh($$"""
                python3 - <<'PY'
                import os, random
                want = open("{{copy}}", "rb").read()
                fd = os.open("sparse", os.O_RDONLY | os.O_DIRECT)
                r = random.Random(5)
                for _ in range(300):
                    off = r.randrange(len(want) + 5000); n = r.randrange(1, 300000)
                    got = os.pread(fd, n, off)
                    assert got == want[off:off + n], (off, n, len(got))
                PY
                """), m);
        }
        finally
        {
            File.Delete(copy);
        }

        Assert.Equal(0, m.Mount.Unmount());
    }

    private static byte[] ReadEngine(FileSystem fs, string path, int length)
    {
        using var h = fs.Open(path, OpenFlags.ReadOnly);
        var buffer = new byte[length];
        var n = h.Read(buffer, 0);
        Assert.Equal(length, n);
        return buffer;
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnlinkedOpenFileStaysReadableUntilClosed(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        File.WriteAllText(m.At("victim"), "still here");
        long ino;
        using (var stream = new FileStream(m.At("victim"), FileMode.Open, FileAccess.ReadWrite))
        {
            ino = m.Fs.Stat("/victim").Ino;
            File.Delete(m.At("victim"));
            Assert.False(File.Exists(m.At("victim")));
            var buffer = new byte[64];
            var n = stream.Read(buffer);
            Assert.Equal("still here", Encoding.UTF8.GetString(buffer, 0, n));
            stream.Write(" and more"u8);
            stream.Position = 0;
            n = stream.Read(buffer);
            Assert.Equal("still here and more", Encoding.UTF8.GetString(buffer, 0, n));
            Assert.Equal(2, m.Fs.UsedInodes);
        }

        // After the close and the kernel's FORGET, the inode goes.
        var deadline = Stopwatch.StartNew();
        while (m.Fs.UsedInodes != 1 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(20);
        }

        Assert.Equal(1, m.Fs.UsedInodes);
        Assert.Equal(0, m.Fs.Nodes.LookupCount(ino));
        Assert.Equal(0, m.Mount.Unmount());
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void PermissionsAreCheckedForOtherUsers(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        Ok(m.Sh("mkdir -m 755 private && echo secret > private/s && chmod 600 private/s && mkdir -m 1777 shared && chmod 755 ."), m);
        var nobody = "--reuid=65534 --regid=65534 --clear-groups";
        var r = m.Sh("cat private/s", nobody);
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("Permission denied", r.Err, StringComparison.Ordinal);
        r = m.Sh("touch private/x", nobody);
        Assert.NotEqual(0, r.Exit);
        Ok(m.Sh("echo mine > shared/n && stat -c '%u %g' shared/n", nobody), m);
        Assert.Equal(65534u, m.Fs.Stat("/shared/n").Uid);
        Assert.Equal(65534u, m.Fs.Stat("/shared/n").Gid);

        // Set-uid cleared by a write from another user, as the kernel does.
        Ok(m.Sh("echo x > shared/suid && chmod 4777 shared/suid"), m);
        Ok(m.Sh("echo y >> shared/suid", nobody), m);
        Assert.Equal(0, m.Fs.Stat("/shared/suid").Mode & FileModes.SetUid);

        // Supplementary groups count: a file of group 4242 writable by the group.
        Ok(m.Sh("echo g > groupfile && chgrp 4242 groupfile && chmod 664 groupfile"), m);
        Assert.NotEqual(0, m.Sh("echo w >> groupfile", nobody).Exit);
        Ok(m.Sh("echo w >> groupfile", "--reuid=65534 --regid=65534 --groups=4242"), m);
        Assert.Equal(0, m.Mount.Unmount());
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void XattrsRenameFlagsAndHoles(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        Ok(m.Sh("""
            set -e
            echo a > f
            setfattr -n user.k -v value f 2>/dev/null || python3 -c "import os; os.setxattr('f', 'user.k', b'value')"
            python3 - <<'PY'
            import os
            assert os.getxattr('f', 'user.k') == b'value'
            assert 'user.k' in os.listxattr('f')
            os.removexattr('f', 'user.k')
            assert os.listxattr('f') == []
            fd = os.open('sparse', os.O_RDWR | os.O_CREAT, 0o644)
            os.pwrite(fd, b'x', 1 << 20)
            assert os.lseek(fd, 0, os.SEEK_DATA) == 1 << 20
            assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
            os.posix_fallocate(fd, 0, 8192)
            os.close(fd)
            assert os.stat('sparse').st_size == (1 << 20) + 1
            src = os.open('f', os.O_RDONLY); dst = os.open('g', os.O_WRONLY | os.O_CREAT, 0o644)
            assert os.copy_file_range(src, dst, 2) == 2
            os.close(src); os.close(dst)
            assert open('g').read() == 'a\n'
            PY
            """), m);
        Assert.Equal(0, m.Mount.Unmount());
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void LazyUnmountWaitsForTheLastUser(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        File.WriteAllText(m.At("f"), "x");
        var stream = new FileStream(m.At("f"), FileMode.Open, FileAccess.Read);
        Assert.Throws<IOException>(() => m.Mount.Unmount(lazy: false));
        var r = MountedTmpfs.Run("umount", ["-l", m.Path]);
        Assert.Equal(0, r.Exit);
        Assert.False(MountedTmpfs.IsMounted(m.Path));
        Assert.True(m.Mount.IsServing);
        Assert.Equal((byte)'x', (byte)stream.ReadByte());
        stream.Dispose();
        Assert.True(m.Mount.Wait(TimeSpan.FromSeconds(20), out var code));
        Assert.Equal(0, code);
        Assert.True(m.Fs.IsUnmounted);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void UmountCommandEndsTheServer(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        Ok(m.Sh("echo x > f"), m);
        Assert.True(MountedTmpfs.IsMounted(m.Path));
        Assert.Contains("fuse.tmpfs", File.ReadAllText("/proc/mounts"), StringComparison.Ordinal);
        Assert.Equal(0, MountedTmpfs.Run("umount", [m.Path]).Exit);
        Assert.True(m.Mount.Wait(TimeSpan.FromSeconds(20), out var code));
        Assert.Equal(0, code);
        Assert.Equal(0, m.Fs.UsedBytes);
        Assert.Equal(m.Memory.TotalBytes, m.Memory.FreeBytes);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void AbortedConnectionLeavesAMountThatUmountClears(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        Ok(m.Sh("echo x > f"), m);
        m.Mount.Abort(); // what the kernel does when the server dies
        Assert.True(m.Mount.Wait(TimeSpan.FromSeconds(20), out _));
        var r = MountedTmpfs.Run("cat", [m.At("f")]);
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("not connected", r.Err, StringComparison.Ordinal);
        Assert.True(MountedTmpfs.IsMounted(m.Path));
        Assert.Equal(0, MountedTmpfs.Run("umount", [m.Path]).Exit);
        Assert.False(MountedTmpfs.IsMounted(m.Path));
    }
    [SkippableFact]
    public void IoUringServesRequestsAndPutsTheParameterBack()
    {
        MountedTmpfs.SkipUnlessCanMount();
        MountedTmpfs.SkipUnlessIoUring();
        var before = FuseMount.IoUringEnabledAtRest(RestTimeout); // other tests' mounts switch it for their INITs
        using (var m = new MountedTmpfs(ioUring: true))
        {
            // On switched enable_uring for the INIT only: it is back as it was while the
            // connection keeps serving through its rings.
            Assert.Equal(before, FuseMount.IoUringEnabledAtRest(RestTimeout));
            Ok(m.Sh("mkdir d && echo hello > d/f && cat d/f && ls -l d | wc -l && dd if=/dev/urandom of=big bs=1M count=3 status=none && cmp big big"), m);
            Assert.True(m.Mount.RingRequests > 0, "no request came through the rings");
            var counts = m.Mount.RequestCounts();
            Assert.True(counts["INIT"] == 1 && counts.ContainsKey("MKDIR"));
            Assert.Equal(0, m.Mount.Unmount());
            Assert.Equal(0, m.Mount.ProtocolErrors);
            Assert.Equal(m.Memory.TotalBytes, m.Memory.FreeBytes);
        }

        Assert.Equal(before, FuseMount.IoUringEnabledAtRest(RestTimeout));
    }

    /// <summary>
    /// A queue whose REGISTER the kernel refuses (here: a qid past its queues, EINVAL) leaves
    /// the ring short of ready: the kernel keeps sending every request through /dev/fuse, so
    /// the mount serves on (nothing hangs, nothing is aborted), and unmounts cleanly.
    /// </summary>
    [SkippableFact]
    public void IoUringQueueThatCannotRegisterLeavesTheMountServingThroughDevFuse()
    {
        MountedTmpfs.SkipUnlessCanMount();
        MountedTmpfs.SkipUnlessIoUring();
        var before = FuseMount.IoUringEnabledAtRest(RestTimeout); // other tests' mounts switch it for their INITs
        using (var m = new MountedTmpfs(mountOptions: new FuseMountOptions { IoUringRegisterQid = q => q == 0 ? 4000 : q }, ioUring: true))
        {
            var work = Task.Run(() => m.Sh("mkdir d && echo hello > d/f && cat d/f"));
            Assert.True(work.Wait(TimeSpan.FromSeconds(60)), "a caller hung on a mount whose queue could not register");
            Assert.Equal(0, work.Result.Exit);
            Assert.Equal("hello\n", work.Result.Out);
            Assert.Contains("registration of queue 0 failed", m.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("aborting", m.Log, StringComparison.Ordinal);
            Assert.Equal(0, m.Mount.RingRequests);
            Assert.Equal(0, m.Mount.Unmount());
            Assert.Equal(m.Memory.TotalBytes, m.Memory.FreeBytes);
        }

        Assert.Equal(before, FuseMount.IoUringEnabledAtRest(RestTimeout));
    }

    [SkippableFact]
    public void WithoutIoUringNothingGoesThroughRings()
    {
        using var m = new MountedTmpfs();
        Ok(m.Sh("echo x > f && cat f"), m);
        Assert.False(m.Mount.UsesIoUring);
        Assert.Equal(0, m.Mount.RingRequests);
    }
}
