using System.Globalization;
using System.Text;

namespace Tmpfs.Fuse.Tests;

/// <summary>
/// The same shell sequences on a FUSE mount of the engine and on the kernel's tmpfs
/// (mount -t tmpfs, same size and inode limit): exit codes, output and the tools' error
/// messages must match, with each mount's path replaced by "MP".
/// </summary>
public sealed class KernelComparisonTests
{
    private const string Options = "size=64m,nr_inodes=1000,mode=1777";
    private const string AsUser = "setpriv --reuid=1000 --regid=1000 --clear-groups";

    /// <summary>Each runs in its own empty directory (mode 0777) with sh -c; stderr follows stdout.</summary>
    private static readonly (string Name, string Script)[] Cases =
    [
        ("rmdir non-empty", "mkdir -p d/e; rmdir d; echo $?; rmdir d/e d; echo $?; ls"),
        ("mv dir into itself", "mkdir -p d/e; mv d d/e; echo $?; mv d d; echo $?; ls -R"),
        ("ln onto an existing name", "touch a b; ln a b; echo $?; ln -s a b; echo $?; ln a b/c; echo $?; ln -s a a; echo $?"),
        ("hard link to a directory", "mkdir d; ln d e; echo $?"),
        ("cat a directory", "mkdir d; cat d; echo $?; head -c1 d; echo $?"),
        ("mkdir -p over a file", "touch f; mkdir -p f/g; echo $?; mkdir f; echo $?; mkdir -p d/e/f && mkdir d/e; echo $?"),
        ("rm -d", "mkdir -p d/e; touch d/e/f; rm -d d; echo $?; rm -d d/e; echo $?; rm d/e/f; rm -d d/e d; echo $?; ls"),
        ("unlink and rm of a dir", "mkdir d; unlink d; echo $?; rm d; echo $?; rm nothing; echo $?; rm -f nothing; echo $?"),
        ("rename over dirs and files", "mkdir -p a/x b c; touch f; mv c a; echo $?; mv b a; echo $?; ls a; mv f a; echo $?; mv a f; echo $?; mv -T b a/x; echo $?; mkdir -p e/y; mv -T e a; echo $?"),
        ("rmdir . and ..", "mkdir d; cd d; rmdir .; echo $?; rmdir ..; echo $?"),
        ("symlinks", "ln -s loop loop; cat loop; echo $?; ln -s nowhere dangling; cat dangling; echo $?; test -L dangling && echo link; ln -s d/x; ls -l x | cut -c1-10; readlink -f dangling | sed 's|.*/||'"),
        ("long names", "n=$(printf 'x%.0s' $(seq 255)); touch $n; echo $?; touch ${n}y; echo $?; ls | wc -l"),
        ("chmod as non-owner", $"touch f; chmod 644 f; {AsUser} chmod 777 f; echo $?; stat -c %a f; {AsUser} chown 1000 f; echo $?"),
        ("own file as a user", $"{AsUser} sh -c 'touch mine; chmod 4755 mine; stat -c %A mine; chown 0 mine; echo $?; chgrp 0 mine; echo $?; chmod 2755 mine; stat -c %A mine'"),
        ("touch in a 0555 dir", $"mkdir -m 0555 d; {AsUser} touch d/x; echo $?; {AsUser} mkdir d/y; echo $?; touch d/root; {AsUser} rm -f d/root; echo $?; ls d"),
        ("0700 dir of root", $"mkdir -m 0700 d; touch d/f; {AsUser} ls d; echo $?; {AsUser} cat d/f; echo $?; {AsUser} stat -c %s d/f; echo $?"),
        ("sticky dir", $"mkdir -m 1777 t; touch t/rootfile; chmod 666 t/rootfile; {AsUser} rm -f t/rootfile; echo $?; {AsUser} mv t/rootfile t/other; echo $?; {AsUser} sh -c 'echo w >> t/rootfile'; echo $?; {AsUser} touch t/userfile; rm t/userfile; echo $?"),
        ("write to a read-only file", $"echo a > f; chmod 444 f; {AsUser} sh -c 'echo b > f'; echo $?; echo c >> f; echo $?; cat f; {AsUser} truncate -s 0 f; echo $?"),
        ("set-gid directory inheritance", "mkdir -m 2775 g; chgrp 1234 g; mkdir g/sub; touch g/f; stat -c '%A %g' g/sub g/f"),
        ("ls -l of a file set", "mkdir d; echo hello > f; ln f h; ln -s f s; mkfifo p; truncate -s 5000 big; chmod 1777 d; chmod 751 f; ls -l --time-style=+T"),
        ("ls -la of dirs", "mkdir -p a/b/c a/d; touch a/e; ls -la --time-style=+T a | sed 1d; stat -c '%h' a a/b"),
        ("stat of various files", "mkdir -p d/s1 d/s2; echo x > f; : > empty; ln -s f sym; mkfifo fifo; truncate -s 1M sparse; dd if=/dev/zero of=full bs=4k count=3 status=none; printf 'x' | dd of=holey bs=1 seek=100000 status=none; ln f f2; stat -c '%n %A %h %s %b %B %F' d d/s1 f empty sym fifo sparse full holey f2 ."),
        ("statfs block sizes", "stat -f -c '%s %S %l' ."),
        ("df -h", "dd if=/dev/zero of=f bs=1M count=3 status=none; df -h --output=size,used,avail,pcent . ; df --output=itotal,iused,iavail,ipcent . ; df -B1 --output=size ."),
        ("truncate beyond size", "truncate -s 1G f; echo $?; stat -c '%s %b' f; truncate -s 100M f; echo $?; truncate -s -200M f; echo $?; stat -c %s f; truncate -s 1P g; echo $?"),
        // Known difference: the kernel's tmpfs frees an unlinked file's pages inside unlink(2);
        // through FUSE they are freed when the kernel's FORGET (queued asynchronously after
        // the unlink reply) has been handled, so a statfs right after rm can still count them
        // for a few milliseconds. Hence the pause before the second df.
        ("write past the size limit", "dd if=/dev/zero of=f bs=1M count=80 status=none; echo $?; stat -c %s f; df --output=avail . | tail -1; rm f; sleep 0.5; df --output=used . | tail -1"),
        ("inode limit", "mkdir d; i=0; while [ $i -lt 1100 ]; do touch d/$i 2>/dev/null || break; i=$((i+1)); done; echo $i; touch d/more; echo $?; mkdir d2; echo $?; rm -r d"),
        ("O_EXCL and noclobber", "touch f; set -C; echo x > f; echo $?; set +C; python3 -c \"import os; os.open('f', os.O_CREAT | os.O_EXCL)\" 2>&1 | tail -1"),
        ("xattrs", "touch f; ln -s f s; setfattr -n user.a -v 1 f; getfattr -d f | sed 1d; setfattr -h -n user.a -v 1 s; echo $?; getfattr -n user.none f; echo $?; setfattr -n trusted.t -v 2 f; getfattr -d -m - f | sed 1d; setfattr -x user.none f; echo $?"),
        ("fallocate and punch", "fallocate -l 1M f; stat -c '%s %b' f; fallocate -p -o 0 -l 512K f; stat -c '%s %b' f; fallocate -c -o 0 -l 4096 f; echo $?; stat -c %s f"),
        // Not compared: lseek(dir, 0, SEEK_END) is EINVAL on the kernel's tmpfs (dcache_dir_lseek)
        // but succeeds on any FUSE mount: the kernel's FUSE directory file uses generic_file_llseek
        // and sends no request, so the server cannot change it.
        ("read of a directory fd", "mkdir d; python3 -c \"import os; fd=os.open('d', os.O_RDONLY); print(os.lseek(fd, 0, 0)); os.read(fd, 1)\" 2>&1 | tail -1"),
        ("open flags on dirs and files", "mkdir d; touch f; python3 -c \"import os\nfor p, fl in (('d', os.O_WRONLY), ('f', os.O_DIRECTORY), ('f/x', os.O_RDONLY), ('d', os.O_CREAT)):\n  try: os.open(p, fl, 0o644); print('ok')\n  except OSError as e: print(p, e.strerror)\""),
        // Shared and private mappings against read(2)/write(2) on the same file, within one
        // process and across two (the second one's write must show in the first one's map).
        ("mmap and read/write coherence", "python3 -c \"" +
            "import mmap, os, subprocess\n" +
            "fd = os.open('f', os.O_RDWR | os.O_CREAT, 0o644); os.ftruncate(fd, 3 * 4096)\n" +
            "m = mmap.mmap(fd, 3 * 4096)\n" +
            "m[0:5] = b'hello'; print(os.pread(fd, 5, 0), os.stat('f').st_size)\n" +
            "os.pwrite(fd, b'world', 4096); print(m[4096:4101])\n" +
            "subprocess.run(['sh', '-c', 'printf other | dd of=f bs=1 seek=8192 conv=notrunc status=none'])\n" +
            "print(m[8192:8197]); m.flush(); m.close()\n" +
            "p = mmap.mmap(fd, 4096, flags=mmap.MAP_PRIVATE); p[0:5] = b'XXXXX'; print(p[0:5], os.pread(fd, 5, 0)); p.close()\n" +
            "os.ftruncate(fd, 5 * 4096); m = mmap.mmap(fd, 5 * 4096); m[16384:16387] = b'end'; m.close(); os.close(fd)\n" +
            "print(open('f', 'rb').read()[16380:16390], os.stat('f').st_blocks)\n" +
            "\"; od -c f | tail -3"),
        ("utimes", "touch -d '2001-01-01 00:00:00.123456789' f; stat -c '%y %x' f; touch -m -d @0 f; stat -c %Y f; touch -a -d '1960-01-01' f; stat -c %X f"),
        // Birth time comes only through statx (FUSE_STATX); device numbers through it too.
        ("birth time and device numbers", "touch f; b=$(stat -c %W f); [ \"$b\" -gt 0 ] && [ \"$b\" -le \"$(stat -c %Y f)\" ] && echo born; stat -c %w f | cut -c1-2; touch -d @1000 f; [ \"$(stat -c %W f)\" = \"$b\" ] && echo kept; mknod c c 1 3; mknod b b 259 70000; stat -c '%n %t %T %F' c b; mkdir d; [ \"$(stat -c %W d)\" -gt 0 ] && echo dir-born"),
    ];

    /// <param name="directIo">With FOPEN_DIRECT_IO opens (the direct_io mount option): the kernel's page cache out of the way.</param>
    /// <param name="ioUring">Served over FUSE-over-io_uring (skipped when the kernel has none).</param>
    [SkippableTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void SameCommandsGiveTheSameResultsAsTheKernelsTmpfs(bool directIo, bool ioUring)
    {
        using var m = new MountedTmpfs(Options, new FuseMountOptions { DirectIo = directIo }, ioUring);
        var kernel = Directory.CreateTempSubdirectory("tmpfs-kernel-").FullName;
        var mounted = false;
        try
        {
            var r = MountedTmpfs.Run("mount", ["-t", "tmpfs", "-o", Options, "tmpfs", kernel]);
            Assert.True(r.Exit == 0, "mount -t tmpfs failed: " + r.Err);
            mounted = true;
            var differences = new StringBuilder();
            for (var i = 0; i < Cases.Length; i++)
            {
                var (name, script) = Cases[i];
                var ours = RunCase(m.Path, i, script);
                var theirs = RunCase(kernel, i, script);
                if (Environment.GetEnvironmentVariable("TMPFS_COMPARE_DUMP") is { Length: > 0 } dump)
                {
                    File.AppendAllText(dump, $"--- {name}\n{theirs}");
                }

                if (ours != theirs)
                {
                    differences.Append(CultureInfo.InvariantCulture, $"--- {name}: {script}\n[kernel tmpfs]\n{theirs}[fuse]\n{ours}\n");
                }
            }

            Assert.True(differences.Length == 0, differences + "server log: " + m.Log);
        }
        finally
        {
            if (mounted)
            {
                MountedTmpfs.Run("umount", [kernel]);
            }

            Directory.Delete(kernel);
        }

        Assert.Equal(0, m.Mount.Unmount());
        Assert.Equal(0, m.Mount.ProtocolErrors);
    }

    private static string RunCase(string root, int index, string script)
    {
        var dir = Path.Combine(root, "c" + index.ToString(CultureInfo.InvariantCulture));
        var r = MountedTmpfs.Run("sh", ["-c", $"mkdir -m 0777 '{dir}' && cd '{dir}' && {{ {script}\n}}; echo exit $?"], root);
        var text = r.Out + r.Err;
        MountedTmpfs.Run("rm", ["-rf", dir]);
        return text.Replace(root, "MP", StringComparison.Ordinal);
    }
}
