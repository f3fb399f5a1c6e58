using System.Globalization;
using Tmpfs;
using Tmpfs.Fuse;

// A tiny server for bench/fuse/run.sh: mounts a tmpfs of the engine on a directory
// through FUSE and serves it until `umount`. Prints "ready" once mounted.
//   Tmpfs.FuseBench <mountpoint> [size, e.g. 3g] [threads, 0 = default] [poll us] [io_uring: auto|on|off] [pin|nopin: io_uring queue threads]
//   with DIRECT_IO=1 in the environment: the direct_io option
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Tmpfs.FuseBench <mountpoint> [size] [threads] [poll us] [auto|on|off] [pin|nopin] (DIRECT_IO=1 in the environment: the direct_io option)");
    return 2;
}

if (args[0] == "--engine")
{
    // The engine alone, in process: 4 KiB random reads and 1 MiB writes of a 1 GiB file.
    using var m = new MemoryManager(2L << 30);
    var f = m.Mount("size=1500m");
    using var h = f.Open("/f", OpenFlags.ReadWrite | OpenFlags.Create, 420);
    var block = new byte[1 << 20];
    var sw = System.Diagnostics.Stopwatch.StartNew();
    for (var i = 0; i < 1024; i++)
    {
        h.Write(block, (long)i << 20);
    }

    Console.WriteLine($"engine write 1 MiB: {1024 / sw.Elapsed.TotalSeconds:F0} MiB/s");
    var rnd = new Random(1);
    var small = new byte[4096];
    sw.Restart();
    for (var i = 0; i < 200_000; i++)
    {
        h.Read(small, (long)rnd.Next(1 << 18) << 12);
    }

    Console.WriteLine($"engine read 4 KiB random: {200_000 / sw.Elapsed.TotalSeconds / 1000:F0}k IOPS");
    sw.Restart();
    for (var i = 0; i < 1024; i++)
    {
        h.Read(block, (long)i << 20);
    }

    Console.WriteLine($"engine read 1 MiB: {1024 / sw.Elapsed.TotalSeconds:F0} MiB/s");
    sw.Restart();
    for (var i = 0; i < 10_000; i++)
    {
        f.Open("/c" + i, OpenFlags.WriteOnly | OpenFlags.Create, 420).Dispose();
    }

    Console.WriteLine($"engine 10k creates: {sw.Elapsed.TotalSeconds:F3} s");
    return 0;
}

var size = args.Length > 1 ? args[1] : "3g";
var threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 0;
var pollMicroseconds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50;
var directIo = Environment.GetEnvironmentVariable("DIRECT_IO") == "1";
var ioUring = args.Length > 4 ? Enum.Parse<FuseIoUring>(args[4], ignoreCase: true) : FuseIoUring.Auto;
var pin = args.Length <= 5 || args[5] != "nopin";
var budget = MemoryManager.ParseSize(size) + (256L << 20);
using var memory = new MemoryManager(budget);
var fs = memory.Mount("size=" + size);
using var mount = FuseMount.Mount(fs, args[0], new FuseMountOptions { Threads = threads, PollBeforeSleep = TimeSpan.FromMicroseconds(pollMicroseconds), IoUring = ioUring, IoUringPinThreads = pin, DirectIo = directIo, Log = Console.Error });
Console.WriteLine("ready");
Console.Out.Flush();
var code = mount.Wait();
Console.Error.WriteLine($"served {args[0]}: exit {code}, protocol errors {mount.ProtocolErrors}, io_uring {mount.UsesIoUring} ({mount.RingRequests} requests through the rings)");
Console.Error.WriteLine("requests: " + string.Join(' ', mount.RequestCounts().Select(kv => $"{kv.Key}={kv.Value}")));
return code;
