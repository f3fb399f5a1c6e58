using System.Diagnostics;
using System.Globalization;
using Tmpfs;

// The engine's side of bench/swap/run.sh: in one process, with a RAM budget and a swap
// file on disk, write a file several times the budget in 1 MiB chunks, read it back, then
// raise the budget (as the kernel side relaxes its cgroup limit) and time swapoff.
// Prints one line of key=value figures for the script.
var opts = Options.Parse(args);
var chunk = new byte[opts.Chunk];
new Random(20240601).NextBytes(chunk);

if (opts.Warmup > 0)
{
    // Warm the JIT and the disk path with a small run of the same shape, checked byte for byte.
    Run(opts with { Budget = opts.Budget / 8, Size = opts.Warmup }, chunk, verify: true);
}

var r = Run(opts, chunk, verify: opts.Verify);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"engine write_s={r.Write:F3} read_s={r.Read:F3} swapoff_s={r.Swapoff:F3} swapoff_bytes={r.SwapoffBytes} " +
    $"pswpout={r.PswpOut} pswpin={r.PswpIn} allocstall={r.AllocStall} write_MBps={opts.Size / r.Write / 1e6:F0} " +
    $"read_MBps={opts.Size / r.Read / 1e6:F0} swapoff_MBps={r.SwapoffBytes / r.Swapoff / 1e6:F0}"));
return 0;

static Result Run(Options o, byte[] chunk, bool verify)
{
    using var memory = new MemoryManager(o.Budget, o.Size + o.Budget);
    memory.Swapon(o.SwapFile, o.SwapSize, priority: 10);
    var fs = memory.Mount(string.Create(CultureInfo.InvariantCulture, $"size={o.Size * 2}"));
    var result = new Result();
    using (var h = fs.Open("/big", OpenFlags.Create | OpenFlags.ReadWrite, 0x1A4))
    {
        var sw = Stopwatch.StartNew();
        for (long off = 0; off < o.Size; off += chunk.Length)
        {
            if (h.Write(chunk, off) != chunk.Length)
            {
                throw new InvalidOperationException($"short write at {off}");
            }
        }

        result.Write = sw.Elapsed.TotalSeconds;

        var buffer = new byte[chunk.Length];
        sw.Restart();
        for (long off = 0; off < o.Size; off += buffer.Length)
        {
            if (h.Read(buffer, off) != buffer.Length)
            {
                throw new InvalidOperationException($"short read at {off}");
            }

            if (verify && !buffer.AsSpan().SequenceEqual(chunk))
            {
                throw new InvalidOperationException($"data differs at {off}");
            }
        }

        result.Read = sw.Elapsed.TotalSeconds;
    }

    var info = memory.MemInfo;
    result.PswpOut = info.PswpOut;
    result.PswpIn = info.PswpIn;
    result.AllocStall = info.AllocStall;
    result.SwapoffBytes = memory.SwapDevices[0].UsedBytes;

    // The kernel side sets memory.limit_in_bytes back to unlimited before its swapoff.
    memory.SetBudget(o.Size + o.Budget);
    var t = Stopwatch.StartNew();
    memory.Swapoff(o.SwapFile);
    result.Swapoff = t.Elapsed.TotalSeconds;
    fs.Unmount();
    return result;
}

internal sealed class Result
{
    public double Write { get; set; }

    public double Read { get; set; }

    public double Swapoff { get; set; }

    public long SwapoffBytes { get; set; }

    public long PswpOut { get; set; }

    public long PswpIn { get; set; }

    public long AllocStall { get; set; }
}

internal sealed record Options(long Budget, long Size, int Chunk, string SwapFile, long SwapSize, long Warmup, bool Verify)
{
    public static Options Parse(string[] args)
    {
        long budget = 256L << 20, size = 1L << 30, swapSize = 0, warmup = 128L << 20;
        var chunk = 1 << 20;
        string? swapFile = null;
        var verify = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--budget": budget = MemoryManager.ParseSize(args[++i]); break;
                case "--size": size = MemoryManager.ParseSize(args[++i]); break;
                case "--chunk": chunk = (int)MemoryManager.ParseSize(args[++i]); break;
                case "--swapfile": swapFile = args[++i]; break;
                case "--swapsize": swapSize = MemoryManager.ParseSize(args[++i]); break;
                case "--warmup": warmup = MemoryManager.ParseSize(args[++i]); break;
                case "--verify": verify = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (swapFile is null)
        {
            throw new ArgumentException("--swapfile PATH is required (an existing file, or one the engine creates and removes)");
        }

        if (swapSize == 0)
        {
            swapSize = File.Exists(swapFile) ? new FileInfo(swapFile).Length : size * 2;
        }

        return new Options(budget, size, chunk, swapFile, swapSize, warmup, verify);
    }
}
