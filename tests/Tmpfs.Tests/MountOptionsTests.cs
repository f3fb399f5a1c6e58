using Tmpfs.Shmem;

namespace Tmpfs.Tests;

/// <summary>
/// Expected values were taken from Linux 6.18 on a machine with MemTotal 24684084 kB
/// (6171021 pages): mount(2) of tmpfs with each option string, then /proc/mounts, statvfs
/// and the fs_context message in dmesg.
/// </summary>
public class MountOptionsTests
{
    private const long Budget = 6171021L * MountOptions.PageSize;

    private static MountOptions Parse(string? options) => MountOptions.Parse(options, Budget);

    private static string Refused(string options)
    {
        var e = Assert.Throws<TmpfsException>(() => Parse(options));
        Assert.Equal(Errno.EINVAL, e.Errno);
        return e.Message;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(",,")]
    [InlineData("=foo")]
    public void EmptyGivesNothing(string? options)
    {
        Assert.Equal(new MountOptions(), Parse(options));
    }

    [Fact]
    public void DefaultsAreHalfOfRam()
    {
        Assert.Equal(3085510, MountOptions.DefaultMaxBlocks(Budget));
        Assert.Equal(3085510, MountOptions.DefaultMaxInodes(Budget));
    }

    [Theory]
    [InlineData("size=1", 1)]
    [InlineData("size=4096", 1)]
    [InlineData("size=4097", 2)]
    [InlineData("size=0", 0)]
    [InlineData("size=1m", 256)]
    [InlineData("size=1M", 256)]
    [InlineData("size=1g", 262144)]
    [InlineData("size=18446744073709551615", 4503599627370496)] // the kernel rounds up past 2^64 to 0
    [InlineData("size=0x1000", 1)]
    [InlineData("size=010k", 2)] // a leading 0 means octal: 8 KiB
    [InlineData("size=10%", 617103)]
    [InlineData("size=1%", 61711)]
    [InlineData("size=100%", 6171021)]
    [InlineData("size=200%", 12342042)]
    [InlineData("size=1k%", 63191256)]
    [InlineData("size=k", 0)] // no digits parse as 0, i.e. unlimited
    [InlineData("size=%", 0)]
    [InlineData("nr_blocks=10", 10)]
    [InlineData("nr_blocks=1k", 1024)]
    [InlineData("size=1m,size=2m", 512)]
    [InlineData("size=1m,nr_blocks=5", 5)]
    [InlineData("nr_blocks=5,size=0", 0)]
    public void SizeAndBlocks(string options, long pages)
    {
        Assert.Equal(pages, Parse(options).MaxBlocks);
    }

    [Theory]
    [InlineData("size=")]
    [InlineData("size")]
    [InlineData("size=-1")]
    [InlineData("size=1x")]
    [InlineData("size=1.5G")]
    [InlineData("size= 1")]
    [InlineData("size=1%%")]
    [InlineData("size=08")]
    [InlineData("size=0x")]
    [InlineData("size=5\n")]
    [InlineData("size=1M=2")]
    [InlineData("size=1m,2")] // ",2" stays in the value, as for mpol node lists
    [InlineData("size=16E")] // the kernel wraps to 0 (unlimited); we refuse
    [InlineData("size=17E")] // the kernel wraps to 2^60 bytes; we refuse
    [InlineData("size=99999999999999999999")]
    public void BadSize(string options)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'size'", Refused(options));
    }

    [Theory]
    [InlineData("nr_blocks=9223372036854775808")]
    [InlineData("nr_blocks=8E")]
    [InlineData("nr_blocks=")]
    [InlineData("nr_blocks=1%")]
    public void BadBlocks(string options)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'nr_blocks'", Refused(options));
    }

    [Theory]
    [InlineData("nr_inodes=1k", 1024)]
    [InlineData("nr_inodes=0", 0)]
    [InlineData("nr_inodes=2K", 2048)]
    [InlineData("nr_inodes=18014398509481983", 18014398509481983)]
    public void Inodes(string options, long inodes)
    {
        Assert.Equal(inodes, Parse(options).MaxInodes);
    }

    [Theory]
    [InlineData("nr_inodes=18014398509481984")] // > ULONG_MAX / BOGO_INODE_SIZE
    [InlineData("nr_inodes=16E")] // wraps to 0 in the kernel; refused here
    [InlineData("nr_inodes")]
    [InlineData("nr_inodes=1q")]
    public void BadInodes(string options)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'nr_inodes'", Refused(options));
    }

    [Theory]
    [InlineData("mode=755", 0x1ED)]
    [InlineData("mode=0755", 0x1ED)]
    [InlineData("mode=+755", 0x1ED)]
    [InlineData("mode=755\n", 0x1ED)]
    [InlineData("mode=17777", 0xFFF)]
    [InlineData("mode=777777", 0xFFF)]
    [InlineData("mode=37777777777", 0xFFF)]
    public void Mode(string options, int mode)
    {
        Assert.Equal(mode, Parse(options).Mode);
    }

    [Theory]
    [InlineData("mode=8")]
    [InlineData("mode=0x1ff")]
    [InlineData("mode=")]
    [InlineData("mode")]
    [InlineData("mode=-1")]
    [InlineData("mode=40000000000")]
    [InlineData("mode=755,0")]
    public void BadMode(string options)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'mode'", Refused(options));
    }

    [Theory]
    [InlineData("uid=1000", 1000u)]
    [InlineData("uid=0x10", 16u)]
    [InlineData("uid=010", 8u)]
    [InlineData("uid=+5", 5u)]
    [InlineData("uid=4294967294", 4294967294u)]
    public void Uid(string options, uint uid)
    {
        Assert.Equal(uid, Parse(options).Uid);
    }

    [Fact]
    public void Ids()
    {
        var o = Parse("uid=1,gid=2");
        Assert.Equal((1u, 2u), (o.Uid, o.Gid));
        Assert.Equal("EINVAL: tmpfs: Invalid uid '4294967295'", Refused("uid=4294967295"));
        Assert.Equal("EINVAL: tmpfs: Invalid gid '4294967295'", Refused("gid=4294967295"));
        Assert.Equal("EINVAL: tmpfs: Bad value for 'uid'", Refused("uid=-1"));
        Assert.Equal("EINVAL: tmpfs: Bad value for 'uid'", Refused("uid=abc"));
        Assert.Equal("EINVAL: tmpfs: Bad value for 'gid'", Refused("gid="));
        Assert.Equal("EINVAL: tmpfs: Bad value for 'uid'", Refused("uid=4294967296"));
    }

    [Fact]
    public void Flags()
    {
        var o = Parse("size=1m,mode=1777,uid=0,gid=0,nr_inodes=2k,huge=within_size,inode64,noswap");
        Assert.Equal(256, o.MaxBlocks);
        Assert.Equal(2048, o.MaxInodes);
        Assert.Equal(0x3FF, o.Mode);
        Assert.Equal("within_size", o.Huge);
        Assert.True(o.Inode64);
        Assert.True(o.NoSwap);
        Assert.False(Parse("inode64,inode32").Inode64);
        Assert.Equal("EINVAL: tmpfs: Unexpected value for 'inode64'", Refused("inode64=1"));
        Assert.Equal("EINVAL: tmpfs: Unexpected value for 'noswap'", Refused("noswap=0"));
        Assert.Equal("EINVAL: tmpfs: Unexpected value for 'inode32'", Refused("inode32="));
    }

    [Theory]
    [InlineData("huge=deny")]
    [InlineData("huge=ALWAYS")]
    [InlineData("huge=")]
    [InlineData("huge")]
    public void BadHuge(string options)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'huge'", Refused(options));
    }

    [Theory]
    [InlineData("default")]
    [InlineData("default=static")]
    [InlineData("local")]
    [InlineData("prefer")]
    [InlineData("prefer:0")]
    [InlineData("interleave")]
    [InlineData("interleave=static")]
    [InlineData("interleave:0,0")]
    [InlineData("bind:0")]
    [InlineData("bind=static:0")]
    [InlineData("bind=relative:0")]
    [InlineData("bind:0-0")]
    [InlineData("bind:0,0")]
    [InlineData("bind:00")]
    [InlineData("bind: 0")]
    public void MemoryPolicy(string policy)
    {
        Assert.Equal(policy, Parse("mpol=" + policy).MemoryPolicy);
    }

    [Fact]
    public void NodeListCommasStayInTheOption()
    {
        var o = Parse("mpol=bind:0,0,size=1m");
        Assert.Equal(("bind:0,0", 256L), (o.MemoryPolicy, o.MaxBlocks));
    }

    [Theory]
    [InlineData("bind")]
    [InlineData("default:0")]
    [InlineData("local:0")]
    [InlineData("local=static")]
    [InlineData("prefer=static")]
    [InlineData("prefer:0,0")]
    [InlineData("bind:1")]
    [InlineData("bind:0-1")]
    [InlineData("interleave:0,1")]
    [InlineData("bind:0:1")]
    [InlineData("bind=foo:0")]
    [InlineData("bind:")]
    [InlineData("interleave:")]
    [InlineData("weighted-interleave:0")]
    [InlineData("bogus")]
    [InlineData("")]
    public void BadMemoryPolicy(string policy)
    {
        Assert.Equal("EINVAL: tmpfs: Bad value for 'mpol'", Refused("mpol=" + policy));
    }

    [Fact]
    public void VfsFlagsAreAccepted()
    {
        Assert.True(Parse("ro,size=1m").ReadOnly);
        Assert.True(Parse("ro=5").ReadOnly);
        Assert.False(Parse("ro,rw").ReadOnly);
        Assert.Equal(new MountOptions(), Parse("sync,async,dirsync,lazytime,nolazytime,mand,nomand"));
        Assert.Equal("EINVAL: Multiple sources", Refused("source=x"));
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("foo=bar")]
    [InlineData("Size=1m")]
    [InlineData("noinode64")]
    [InlineData("noatime")]
    [InlineData("nosuid")]
    [InlineData("defaults")]
    [InlineData("posixacl")]
    [InlineData("silent")]
    public void UnknownParameter(string options)
    {
        string key = options.Split('=')[0];
        Assert.Equal($"EINVAL: tmpfs: Unknown parameter '{key}'", Refused(options));
    }

    [Theory]
    [InlineData("quota")]
    [InlineData("usrquota")]
    [InlineData("grpquota_block_hardlimit=1m")]
    [InlineData("casefold")]
    [InlineData("casefold=utf8-12.1.0")]
    [InlineData("strict_encoding")]
    public void UnmodelledParameter(string options)
    {
        string key = options.Split('=')[0];
        Assert.Equal($"EINVAL: tmpfs: Unsupported parameter '{key}'", Refused(options));
    }

    [Theory]
    [InlineData("512M", 536870912L)]
    [InlineData("1g", 1073741824L)]
    [InlineData("4096", 4096L)]
    [InlineData("10k", 10240L)]
    [InlineData("1t", 1L << 40)]
    [InlineData("2p", 2L << 50)]
    [InlineData("7e", 7L << 60)]
    [InlineData("0x1E", 30L)] // hex digits win over the E suffix
    public void ParseSize(string text, long bytes)
    {
        Assert.Equal(bytes, MountOptions.ParseSize(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("1x")]
    [InlineData("8e")]
    [InlineData("1kk")]
    [InlineData("18446744073709551616")]
    public void BadParseSize(string text)
    {
        var e = Assert.Throws<TmpfsException>(() => MountOptions.ParseSize(text));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void RemountKeepsWhatIsNotGivenAndIgnoresOwnership()
    {
        Assert.Equal((256L, 10L), MountOptions.Reconfigure(Parse("mode=700,uid=5,gid=5"), 256, 10, 100, 4));
        Assert.Equal((0L, 10L), MountOptions.Reconfigure(Parse("size=0"), 256, 10, 100, 4));
        Assert.Equal((256L, 0L), MountOptions.Reconfigure(Parse("nr_inodes=0"), 256, 10, 100, 4));
        Assert.Equal((100L, 4L), MountOptions.Reconfigure(Parse("nr_blocks=100,nr_inodes=4"), 256, 10, 100, 4));
        Assert.Equal((1280L, 10L), MountOptions.Reconfigure(Parse("nr_blocks=0,size=5m"), 256, 10, 100, 4));
    }

    [Theory]
    [InlineData("nr_blocks=99", 256, 10, "Too small a size for current use")]
    [InlineData("nr_inodes=3", 256, 10, "Too few inodes for current use")]
    [InlineData("size=1m", 0, 10, "Cannot retroactively limit size")]
    [InlineData("nr_inodes=10", 256, 0, "Cannot retroactively limit inodes")]
    [InlineData("noswap", 256, 10, "Cannot disable swap on remount")]
    public void RemountRefused(string options, long maxBlocks, long maxInodes, string message)
    {
        var e = Assert.Throws<TmpfsException>(() => MountOptions.Reconfigure(Parse(options), maxBlocks, maxInodes, 100, 4));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("EINVAL: tmpfs: " + message, e.Message);
    }

    [Fact]
    public void RemountInodeNumbersAndSwap()
    {
        Assert.Equal((1L, 1L), MountOptions.Reconfigure(Parse("noswap"), 1, 1, 0, 0, currentNoSwap: true));
        Assert.Equal((1L, 1L), MountOptions.Reconfigure(Parse("inode32"), 1, 1, 0, 0, nextInode: uint.MaxValue));
        var e = Assert.Throws<TmpfsException>(() =>
            MountOptions.Reconfigure(Parse("inode32"), 1, 1, 0, 0, nextInode: (ulong)uint.MaxValue + 1));
        Assert.Equal("EINVAL: tmpfs: Current inum too high to switch to 32-bit inums", e.Message);
    }
}
