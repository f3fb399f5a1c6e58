using System.Globalization;
using Tmpfs;
using Tmpfs.Fuse;

// A tiny server for bench/fuse/run.sh: mounts a tmpfs of the engine on a directory
// through FUSE and serves it until `umount`. Prints "ready" once mounted.
//   Tmpfs.FuseBench <mountpoint> [size, e.g. 3g] [threads, 0 = default]
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Tmpfs.FuseBench <mountpoint> [size] [threads]");
    return 2;
}

var size = args.Length > 1 ? args[1] : "3g";
var threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 0;
var budget = MemoryManager.ParseSize(size) + (256L << 20);
using var memory = new MemoryManager(budget);
var fs = memory.Mount("size=" + size);
using var mount = FuseMount.Mount(fs, args[0], new FuseMountOptions { Threads = threads, Log = Console.Error });
Console.WriteLine("ready");
Console.Out.Flush();
var code = mount.Wait();
Console.Error.WriteLine($"served {args[0]}: exit {code}, protocol errors {mount.ProtocolErrors}");
return code;
