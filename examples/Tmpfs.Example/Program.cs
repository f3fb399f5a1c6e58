using System.Text;
using Tmpfs;

// A tour of the engine: mount a tmpfs on a shared RAM budget, write, read, list, stat, unmount.
var budget = args.Length > 0 ? args[0] : "256M";
var options = args.Length > 1 ? args[1] : "size=64M,nr_inodes=10k,mode=1777";

using var memory = new MemoryManager(MemoryManager.ParseSize(budget));
Console.WriteLine($"budget: {memory.TotalBytes:N0} bytes, free {memory.FreeBytes:N0}");

var fs = memory.Mount(options);
Console.WriteLine($"mounted tmpfs -o {options}: size limit {fs.SizeLimit:N0} bytes, {fs.InodeLimit:N0} inodes");

fs.Mkdir("/docs", 0x1ED /* 0755 */);
Console.WriteLine("mkdir /docs");

var text = Encoding.UTF8.GetBytes("Files live in 4 KiB pages under a RAM budget.\n");
using (var file = fs.Open("/docs/readme.txt", OpenFlags.Create | OpenFlags.ReadWrite | OpenFlags.Exclusive, 0x1A4 /* 0644 */))
{
    var written = file.Write(text, 0);
    Console.WriteLine($"write /docs/readme.txt: {written} bytes");

    // A sparse file: one page at 1 GiB takes one page of memory.
    using var sparse = fs.Open("/docs/sparse", OpenFlags.Create | OpenFlags.WriteOnly, 0x180 /* 0600 */);
    sparse.Write("end"u8, 1L << 30);
    var st = sparse.Stat();
    Console.WriteLine($"write /docs/sparse at 1 GiB: size {st.Size:N0}, blocks {st.Blocks} (512-byte units)");

    var buffer = new byte[text.Length];
    var read = file.Read(buffer, 0);
    Console.WriteLine($"read /docs/readme.txt: {read} bytes: {Encoding.UTF8.GetString(buffer, 0, read).TrimEnd()}");
}

fs.Symlink("docs/readme.txt", "/readme");
Console.WriteLine($"symlink /readme -> {fs.ReadLink("/readme")}");

foreach (var entry in fs.ReadDirectory("/docs"))
{
    var st = fs.Stat("/docs/" + entry.Name, follow: false);
    Console.WriteLine($"ls /docs: {entry.Name,-12} ino {entry.Ino,3}  mode {Convert.ToString(st.Mode, 8)}  size {st.Size,13:N0}");
}

var sf = fs.StatFs();
Console.WriteLine($"statfs: {sf.Blocks - sf.BlocksFree} of {sf.Blocks} blocks used, {sf.Files - sf.FilesFree} of {sf.Files} inodes used");
Console.WriteLine($"memory: {memory.ShmemBytes:N0} bytes of file pages resident, {memory.FreeBytes:N0} free");

fs.Unmount();
Console.WriteLine($"unmounted: {memory.ShmemBytes:N0} bytes resident, {memory.FreeBytes:N0} free");
