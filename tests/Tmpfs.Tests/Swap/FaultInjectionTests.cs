using System.Diagnostics;
using Tmpfs.Memory;
using Tmpfs.Shmem;
using Xunit.Abstractions;

namespace Tmpfs.Tests.Swap;

/// <summary>
/// Swap devices that fail: write errors, a full disk, corrupted slots. Whatever the device
/// does, a page is never lost by a failed write (it stays resident and dirty), a bad read is
/// EIO for that page and never wrong data, and nothing leaks afterwards.
/// </summary>
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    private const int Page = 4096;

    [Fact]
    public void WriteErrors_ThePageStaysResidentAndDirty_ItsSlotIsFreed_AndItsDataIntact()
    {
        using var memory = new MemoryManager(1L << 20); // 256 frames
        var backing = new InjectedBacking(1024) { WriteFault = (_, _) => InjectedBacking.Error(Errno.EIO) };
        memory.Swapon("injected-eio", 1024, 0, backing);
        var fs = memory.Mount();
        var data = RandomBytes(128 * Page, seed: 1);
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        Assert.Equal(data.Length, file.Write(data, 0));

        var freed = memory.Reclaim.Shrink(64);

        var info = memory.MemInfo;
        Assert.Equal(0, freed);
        Assert.True(info.SwapWriteErrors > 0, "no write reached the failing device");
        Assert.Equal(backing.FailedWrites, backing.Writes);
        Assert.Equal(0, info.PswpOut);
        Assert.Equal(0, info.SwapCached);
        Assert.Equal(0, memory.SwapDevices[0].UsedBytes);
        Assert.Equal(0, file.Inode.Swapped);
        for (long i = 0; i < 128; i++)
        {
            var entry = file.Inode.Pages.Get(i);
            Assert.True(PageCacheTree.IsFrame(entry), $"page {i} left the page cache after a failed write");
            Assert.True(memory.Frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Dirty), $"page {i} is resident but clean after a failed write");
        }

        Assert.Equal(data, ReadAll(file, data.Length));
        Assert.Empty(memory.CheckConsistency());

        // The device heals: reclaim moves on, and the pages go out and come back intact.
        backing.WriteFault = null;
        Assert.True(memory.Reclaim.Shrink(64) > 0, "reclaim did not swap out once writes worked again");
        Assert.True(memory.MemInfo.PswpOut > 0);
        Assert.True(file.Inode.Swapped > 0);
        Assert.Equal(data, ReadAll(file, data.Length));
        Assert.True(memory.MemInfo.PswpIn > 0);

        file.Dispose();
        fs.Unmount();
        AssertNothingLeft(memory, "injected-eio");
        Assert.True(backing.Disposed, "swapoff did not close the device");
    }

    [Fact]
    public void EveryThirdWriteFails_UnderPressure_ReclaimMovesOn_AndEveryByteReadsBack()
    {
        using var memory = new MemoryManager(2L << 20);
        var backing = new InjectedBacking(8192) { WriteFault = (_, n) => n % 3 == 0 ? InjectedBacking.Error(Errno.EIO) : null };
        memory.Swapon("injected-flaky", 8192, 0, backing);
        var fs = memory.Mount("size=16M");
        const int files = 4;
        var data = new byte[files][];
        for (var f = 0; f < files; f++)
        {
            data[f] = RandomBytes(2 << 20, seed: 10 + f); // 8 MiB in all: four times the budget
            using var h = fs.Open($"/f{f}", OpenFlags.Create | OpenFlags.WriteOnly, 0x1A4);
            for (var off = 0; off < data[f].Length; off += 64 << 10)
            {
                Assert.Equal(64 << 10, h.Write(data[f].AsSpan(off, 64 << 10), off));
            }
        }

        for (var f = 0; f < files; f++)
        {
            using var h = fs.Open($"/f{f}", OpenFlags.ReadOnly);
            Assert.True(data[f].AsSpan().SequenceEqual(ReadAll(h, data[f].Length)), $"f{f} changed");
        }

        var info = memory.MemInfo;
        output.WriteLine($"writes {backing.Writes}, failed {backing.FailedWrites}, pswpout {info.PswpOut}, pswpin {info.PswpIn}, errors {info.SwapWriteErrors}");
        Assert.True(info.SwapWriteErrors > 0, "no write failed");
        Assert.True(info.PswpOut > 0 && info.PswpIn > 0, "no swap traffic");
        Assert.Empty(memory.CheckConsistency());

        fs.Unmount();
        AssertNothingLeft(memory, "injected-flaky");
    }

    [Fact]
    public void FullDisk_WritesFailWithEnospc_PagesStayResident_AndTheFileSystemSaysEnospcWhenRamIsFull()
    {
        using var memory = new MemoryManager(1L << 20); // 256 frames
        var backing = new InjectedBacking(4096);

        // The disk fills up after 64 pages: every later write is ENOSPC (the swap file is
        // preallocated at swapon, so on a real disk this is a thin-provisioned or failing device).
        backing.WriteFault = (_, _) => backing.PagesWritten >= 64 ? InjectedBacking.Error(Errno.ENOSPC) : null;
        memory.Swapon("injected-full", 4096, 0, backing);
        var fs = memory.Mount("size=16M");
        var data = RandomBytes(4 << 20, seed: 3);
        long written = 0;
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        var clock = Stopwatch.StartNew();
        while (written < data.Length)
        {
            int n;
            try
            {
                n = file.Write(data.AsSpan((int)written, Page), written);
            }
            catch (TmpfsException e) when (e.Errno == Errno.ENOSPC)
            {
                break;
            }

            written += n;
        }

        Assert.Equal(written, file.Stat().Size);

        // Hold kswapd off while looking: a pass in flight has pages in the swap cache.
        var onSwap = new bool[written / Page];
        using (memory.Reclaim.Pause())
        {
            output.WriteLine($"wrote {written} bytes in {clock.ElapsedMilliseconds} ms before ENOSPC; {memory.MemInfo}");
            var info = memory.MemInfo;
            Assert.True(written < data.Length, "the writes never ran out of space");
            Assert.True(written >= 512 << 10, $"only {written} bytes fit in 1 MiB of RAM and 64 pages of swap");
            Assert.True(written <= (256 + 64 + SwapWriteBatch.MaxPages) * Page, $"{written} bytes fit in 256 frames and about 64 slots");
            Assert.True(info.SwapWriteErrors > 0, "no write hit the full disk");
            Assert.True(info.PswpOut > 0, "nothing went out before the disk filled");
            Assert.Equal(0, info.SwapCached);

            // Pages refused by the disk are resident and dirty; the ones that made it out are on swap.
            long resident = 0, swapped = 0;
            for (long i = 0; i < written / Page; i++)
            {
                var entry = file.Inode.Pages.Get(i);
                if (PageCacheTree.IsSwap(entry))
                {
                    swapped++;
                    onSwap[i] = true;
                }
                else
                {
                    resident++;
                    Assert.True(memory.Frames.TestFlag(PageCacheTree.ToFrame(entry), PageFlags.Dirty), $"page {i} is resident but clean");
                }
            }

            Assert.Equal(info.SwapTotal - info.SwapFree, swapped * Page);
            output.WriteLine($"{resident} pages resident, {swapped} on swap");
        }

        Assert.Empty(memory.CheckConsistency());

        // Reading a page back from swap needs a free frame, which full RAM and a full disk
        // cannot give (the kernel would OOM-kill here): such a read fails, and never returns
        // wrong data. Free memory (the last quarter of the file; more when the frames that frees
        // cannot hold every swapped page before it, as 64 to 96 pages may have gone out before
        // the disk filled, depending on how reclaim batched them) and every byte before verifies.
        var keepPages = onSwap.Length * 3 / 4;
        while (onSwap[keepPages..].Count(s => !s) < onSwap[..keepPages].Count(s => s))
        {
            keepPages--;
        }

        var keep = (long)keepPages * Page;
        file.Truncate(keep);
        Assert.True(data.AsSpan(0, (int)keep).SequenceEqual(ReadAll(file, (int)keep)), "data written before ENOSPC changed");

        Assert.Empty(memory.CheckConsistency());
        file.Dispose();
        fs.Unmount();
        AssertNothingLeft(memory, "injected-full");
    }

    [Fact]
    public void CorruptedSlotInTheSwapFile_ReadIsEio_NeverWrongData_OtherPagesIntact()
    {
        using var dir = new SwapDir();
        var path = dir.File("swap");
        using var memory = new MemoryManager(1L << 20);
        memory.Swapon(path, 16L << 20);
        var fs = memory.Mount("size=16M");
        var data = RandomBytes(2 << 20, seed: 4); // 512 pages in 256 frames: most go to swap
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        for (var off = 0; off < data.Length; off += 64 << 10)
        {
            file.Write(data.AsSpan(off, 64 << 10), off);
        }

        var (bad, slot) = FindPageOnDisk(memory, file.Inode, from: 100);
        using (var swapFile = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            var at = slot * Page + 777;
            swapFile.Position = at;
            var b = (byte)swapFile.ReadByte();
            swapFile.Position = at;
            swapFile.WriteByte((byte)(b ^ 0x01)); // one bit of rot
            swapFile.Flush(flushToDisk: true);
        }

        var page = new byte[Page];
        var e = Assert.Throws<TmpfsException>(() => file.Read(page, (long)bad * Page));
        Assert.Equal(Errno.EIO, e.Errno);
        Assert.True(memory.MemInfo.SwapReadErrors >= 1);

        // Again: still EIO, the entry stays on swap; never the rotten bytes.
        e = Assert.Throws<TmpfsException>(() => file.Read(page, (long)bad * Page));
        Assert.Equal(Errno.EIO, e.Errno);

        // A read across it stops short before it, with the data before it right.
        var across = new byte[(bad + 1) * Page];
        Assert.Equal(bad * Page, file.Read(across, 0));
        Assert.True(across.AsSpan(0, bad * Page).SequenceEqual(data.AsSpan(0, bad * Page)));

        // Every other page reads back exactly.
        for (var i = 0; i < data.Length / Page; i++)
        {
            if (i == bad)
            {
                continue;
            }

            Assert.Equal(Page, file.Read(page, (long)i * Page));
            Assert.True(page.AsSpan().SequenceEqual(data.AsSpan(i * Page, Page)), $"page {i} differs");
        }

        // Freeing the bad page (truncation here; unlink or unmount alike) gives its slot back.
        file.Truncate((long)bad * Page);
        Assert.Empty(memory.CheckConsistency());
        file.Dispose();
        fs.Unmount();
        AssertNothingLeft(memory, path);
        Assert.False(File.Exists(path), "swapoff did not remove the swap file");
    }

    [Fact]
    public void ReadErrorsAndCorruptingReads_AreEioForThosePagesOnly()
    {
        using var memory = new MemoryManager(1L << 20);
        var backing = new InjectedBacking(4096);
        memory.Swapon("injected-reads", 4096, 0, backing);
        var fs = memory.Mount("size=16M");
        var data = RandomBytes(2 << 20, seed: 5);
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        for (var off = 0; off < data.Length; off += 64 << 10)
        {
            file.Write(data.AsSpan(off, 64 << 10), off);
        }

        var (rotten, rottenSlot) = FindPageOnDisk(memory, file.Inode, from: 50);
        var (failing, failingSlot) = FindPageOnDisk(memory, file.Inode, from: rotten + 20);
        lock (backing.CorruptOnRead)
        {
            backing.CorruptOnRead.Add(rottenSlot);
        }

        backing.ReadFault = s => s == failingSlot ? InjectedBacking.Error(Errno.EIO) : null;

        var page = new byte[Page];
        for (var i = 0; i < data.Length / Page; i++)
        {
            if (i == rotten || i == failing)
            {
                var e = Assert.Throws<TmpfsException>(() => file.Read(page, (long)i * Page));
                Assert.Equal(Errno.EIO, e.Errno);
                continue;
            }

            Assert.Equal(Page, file.Read(page, (long)i * Page));
            Assert.True(page.AsSpan().SequenceEqual(data.AsSpan(i * Page, Page)), $"page {i} differs");
        }

        Assert.True(memory.MemInfo.SwapReadErrors >= 2);

        // Once the device reads right again, so do the pages: nothing was lost or replaced.
        lock (backing.CorruptOnRead)
        {
            backing.CorruptOnRead.Clear();
        }

        backing.ReadFault = null;
        Assert.Equal(data, ReadAll(file, data.Length));

        file.Dispose();
        fs.Unmount();
        AssertNothingLeft(memory, "injected-reads");
    }

    /// <summary>
    /// An unreadable slot stops swapoff with EIO and the device stays on, with every page,
    /// the bad one included, still where it was: nothing is dropped. (The kernel since 6.2
    /// poisons the entry instead, shmem_set_folio_swapin_error, and swapoff goes on without
    /// that page; we keep it, so a transient read error loses nothing.) Once the page is
    /// freed, swapoff succeeds.
    /// </summary>
    [Fact]
    public void SwapoffMeetingAnUnreadableSlot_IsEio_DeviceStaysOn_NothingLost_ThenSucceedsOnceItIsFreed()
    {
        using var memory = new MemoryManager(1L << 20, 16L << 20);
        var backing = new InjectedBacking(4096);
        memory.Swapon("injected-swapoff", 4096, 0, backing);
        var fs = memory.Mount("size=16M");
        var data = RandomBytes(2 << 20, seed: 6);
        using var file = fs.Open("/f", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4);
        for (var off = 0; off < data.Length; off += 64 << 10)
        {
            file.Write(data.AsSpan(off, 64 << 10), off);
        }

        var (bad, badSlot) = FindPageOnDisk(memory, file.Inode, from: 60);
        backing.ReadFault = s => s == badSlot ? InjectedBacking.Error(Errno.EIO) : null;
        memory.SetBudget(16L << 20); // room for everything: only the bad slot can stop swapoff

        var e = Assert.Throws<TmpfsException>(() => memory.Swapoff("injected-swapoff"));
        Assert.Equal(Errno.EIO, e.Errno);
        Assert.Single(memory.SwapDevices);
        Assert.Empty(memory.CheckConsistency());

        // Every other page reads back exactly; the bad one is still EIO, not zeros.
        var page = new byte[Page];
        for (var i = 0; i < data.Length / Page; i++)
        {
            if (i == bad)
            {
                Assert.Equal(Errno.EIO, Assert.Throws<TmpfsException>(() => file.Read(page, (long)i * Page)).Errno);
                continue;
            }

            Assert.Equal(Page, file.Read(page, (long)i * Page));
            Assert.True(page.AsSpan().SequenceEqual(data.AsSpan(i * Page, Page)), $"page {i} differs");
        }

        // Punching the bad page out frees its slot, and swapoff then brings the rest home.
        file.Fallocate(FallocateMode.PunchHole | FallocateMode.KeepSize, (long)bad * Page, Page);
        memory.Swapoff("injected-swapoff");
        Assert.Empty(memory.SwapDevices);
        Assert.Equal(0, memory.MemInfo.SwapTotal);
        Assert.Empty(memory.CheckConsistency());
        data.AsSpan(bad * Page, Page).Clear();
        Assert.Equal(data, ReadAll(file, data.Length));
        file.Dispose();
        fs.Unmount();
        var info = memory.MemInfo;
        Assert.Equal(info.MemTotal, info.MemFree);
        Assert.Equal(0, info.InvariantViolations);
    }

    [Fact]
    public void SwaponOnAFullRealFileSystem_IsEnospc_AndLeavesNothingBehind()
    {
        if (Environment.UserName != "root")
        {
            output.WriteLine("skipped: mounting a small file system needs root");
            return;
        }

        using var dir = new SwapDir();
        var mountPoint = dir.File("small");
        Directory.CreateDirectory(mountPoint);
        if (!Run("mount", $"-t tmpfs -o size=1M tmpfs-stress-test {mountPoint}"))
        {
            output.WriteLine("skipped: cannot mount a tmpfs here");
            return;
        }

        try
        {
            var path = Path.Combine(mountPoint, "swap");
            using var memory = new MemoryManager(1L << 20);
            var e = Assert.Throws<TmpfsException>(() => memory.Swapon(path, 4L << 20));
            Assert.Equal(Errno.ENOSPC, e.Errno);
            Assert.False(File.Exists(path), "a failed swapon left its file behind");
            Assert.Empty(memory.SwapDevices);
            Assert.Equal(0, memory.MemInfo.SwapTotal);
            var drive = new DriveInfo(mountPoint);
            Assert.Equal(drive.TotalSize, drive.AvailableFreeSpace);

            // A swap file that fits still works there afterwards.
            memory.Swapon(path, 512L << 10);
            Assert.Single(memory.SwapDevices);
            memory.Swapoff(path);
            Assert.False(File.Exists(path));
        }
        finally
        {
            Run("umount", mountPoint);
        }
    }

    private static (int Index, long Slot) FindPageOnDisk(MemoryManager memory, Inode inode, int from)
    {
        for (var i = from; i < inode.Size / Page; i++)
        {
            long entry;
            using (inode.MappingLock.Hold())
            {
                entry = inode.Pages.Get(i);
            }

            if (!PageCacheTree.IsSwap(entry))
            {
                continue;
            }

            var swap = SwapEntry.FromValue(PageCacheTree.ToSwap(entry));
            var cached = memory.Swap.LookupCache(swap);
            if (cached >= 0)
            {
                memory.Frames.PutPage(cached); // still in the swap cache: a read would not touch the disk
                continue;
            }

            return (i, swap.Offset);
        }

        throw new InvalidOperationException("no page of the file is on the device only");
    }

    private static void AssertNothingLeft(MemoryManager memory, string swapName)
    {
        Assert.Empty(memory.CheckConsistency());
        Assert.Equal(0, memory.SwapDevices.Sum(d => d.UsedBytes));
        memory.Swapoff(swapName);
        var info = memory.MemInfo;
        Assert.Equal(info.MemTotal, info.MemFree);
        Assert.Equal(0, info.SwapCached);
        Assert.Equal(0, info.Shmem);
        Assert.Equal(0, info.InvariantViolations);
        Assert.Empty(memory.SwapDevices);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] ReadAll(FileHandle h, int length)
    {
        var buffer = new byte[length];
        var got = 0;
        while (got < length)
        {
            var n = h.Read(buffer.AsSpan(got), got);
            Assert.True(n > 0, $"end of file at {got} of {length}");
            got += n;
        }

        return buffer;
    }

    private static bool Run(string program, string arguments)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true });
            if (p is null)
            {
                return false;
            }

            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
