namespace Tmpfs.Fuse.Tests;

/// <summary>
/// Real programs on a FUSE mount of the engine: a shell script, coreutils (preserving
/// copies, links, modes with set-id and sticky bits, owners, sizes, du/df), tar with a
/// round-trip compare, git, dd and fio's verifying writer. Each leaves the budget free.
/// </summary>
public sealed class RealProgramTests
{
    private static string Ok((int Exit, string Out, string Err) r, MountedTmpfs m)
    {
        Assert.True(r.Exit == 0, $"exit {r.Exit}\nstdout: {r.Out}\nstderr: {r.Err}\nserver log: {m.Log}");
        return r.Out;
    }

    private static void Done(MountedTmpfs m)
    {
        Assert.Equal(0, m.Mount.Unmount());
        Assert.Equal(0, m.Mount.ProtocolErrors);
        Assert.Equal(m.Memory.TotalBytes, m.Memory.FreeBytes);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void ShellScriptWithPipesRedirectionsHereDocsAndGlobs(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        var output = Ok(m.Sh("""
            set -e
            mkdir -p logs/old
            for i in 1 2 3 4 5 6 7 8 9 10; do echo "entry $i" > "logs/app$i.log"; done
            cat > logs/config.ini <<'EOF'
            [main]
            name = tmpfs
            level = $HOME is not expanded
            EOF
            cat >> logs/config.ini <<EOF
            expanded = $((6 * 7))
            EOF
            ls logs/*.log | wc -l > count
            cat logs/app?.log | sort -r | head -n 3 > top 2> errors
            grep -h entry logs/app1*.log | tr a-z A-Z >> top
            mv logs/app[2-4].log logs/old/
            { echo begin; cat logs/config.ini; echo end; } > combined 2>&1
            exec 3> fd3; echo via-fd3 >&3; exec 3>&-
            sed -n 's/^expanded = //p' logs/config.ini
            printf '%s\n' logs/old/* | xargs -n1 basename | paste -sd,
            cat count
            wc -l < top
            test ! -s errors
            grep -q 'not expanded' combined
            test "$(cat fd3)" = via-fd3
            (cd logs && ls *.log | wc -l)
            rm -r logs
            """), m);
        Assert.Equal("42\napp2.log,app3.log,app4.log\n10\n5\n7\n", output);
        Assert.Equal("entry 9\nentry 8\nentry 7\nENTRY 1\nENTRY 10\n", File.ReadAllText(m.At("top")));
        Done(m);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void CoreutilsPreserveModesTimesLinksAndOwners(bool ioUring)
    {
        using var m = new MountedTmpfs(ioUring: ioUring);
        var output = Ok(m.Sh("""
            set -e
            mkdir -p src/sub dst other
            echo data > src/file
            chmod 640 src/file
            touch -d '2010-05-06 07:08:09.5' src/file
            ln -s file src/link
            ln -s sub src/dirlink
            ln src/file src/hard
            echo more > src/sub/x
            touch -h -d '2011-01-01 00:00:00' src/link
            cp -a src dst/
            stat -c '%n %a %h %F %Y' dst/src/file dst/src/hard dst/src/sub/x | sed 's/ [0-9]*$/ T/' | sort
            test "$(stat -c %Y dst/src/file)" = "$(stat -c %Y src/file)"
            test "$(stat -c %y dst/src/file)" = "$(stat -c %y src/file)"
            test "$(stat -c %i dst/src/file)" = "$(stat -c %i dst/src/hard)"
            readlink dst/src/link dst/src/dirlink
            test "$(stat -c %Y dst/src/link)" = "$(stat -c %Y src/link)"
            mv dst/src/sub other/
            test -f other/sub/x && test ! -e dst/src/sub
            ln other/sub/x other/x2 && ln -s ../other/sub/x dst/sx
            cat dst/sx
            ln -sf file dst/src/link2 && readlink dst/src/link2
            touch -r src/file other/x2
            test "$(stat -c %y other/x2)" = "$(stat -c %y src/file)"
            touch -d '@1234567890' -m other/x2 && stat -c '%Y' other/x2
            chmod 4755 other/x2 && stat -c '%A %a' other/x2
            chmod 2750 other/sub && stat -c '%A %a' other/sub
            chmod 1777 other && stat -c '%A %a' other
            chmod u-s,g+s,o-t other/x2 && stat -c '%A' other/x2
            chown 1234:5678 other/x2 && stat -c '%u %g' other/x2
            chgrp 99 other/x2 && stat -c '%u %g' other/x2
            chown -h 42 dst/src/link && stat -c '%u' dst/src/link
            truncate -s 1M big && stat -c '%s %b' big
            truncate -s +4k big && stat -c '%s' big
            truncate -s 100 big && stat -c '%s' big
            dd if=/dev/urandom of=blob bs=64k count=4 status=none
            du -k blob | cut -f1
            du -sk --apparent-size big | cut -f1
            ls -l other/sub | awk 'NR > 1 { print $1, $2, $3, $4, $5, $NF }'
            ls -ld other | cut -c1-10
            stat -f -c '%T' .
            df -P . | awk 'NR==2 { print $1, ($2 > 0), ($4 > 0) }'
            df -i . | awk 'NR==2 { print ($2 > 0) }'
            """), m);
        Assert.Equal(
            """
            dst/src/file 640 2 regular file T
            dst/src/hard 640 2 regular file T
            dst/src/sub/x 644 1 regular file T
            file
            sub
            more
            file
            1234567890
            -rwsr-xr-x 4755
            drwxr-s--- 2750
            drwxrwxrwt 1777
            -rwxr-sr-x
            1234 5678
            1234 99
            42
            1048576 0
            1052672
            100
            256
            1
            -rwxr-xr-x 2 1234 99 5 x
            drwxrwxrwt
            fuseblk
            tmpfs 1 1
            1

            """,
            output); // x and x2 are one inode: chown cleared its set-gid (group-executable), as the kernel does; stat -f names FUSE "fuseblk"
        Done(m);
    }

    [SkippableTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void TarRoundTripComparesEqual(bool directIo, bool ioUring)
    {
        Skip.IfNot(File.Exists("/usr/bin/tar"), "tar missing");
        using var m = new MountedTmpfs(mountOptions: new FuseMountOptions { DirectIo = directIo }, ioUring: ioUring);
        Ok(m.Sh("""
            set -e
            mkdir -p tree/a/b tree/empty
            for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > tree/a/f$i; done
            dd if=/dev/urandom of=tree/a/b/big bs=1M count=3 status=none
            truncate -s 5M tree/sparse && printf x | dd of=tree/sparse bs=1 seek=2M conv=notrunc status=none
            ln -s a/f1 tree/sym && ln tree/a/f2 tree/hard
            chmod 700 tree/a/b && chmod 4711 tree/a/f3 && touch -d '1999-12-31 23:59:59' tree/a/f4
            tar --sparse -cpf t.tar tree
            tar -df t.tar
            mkdir out && tar -xpf t.tar -C out
            diff -r tree out/tree
            (cd out && tar -df ../t.tar)
            test "$(stat -c '%a %Y' out/tree/a/f4)" = "$(stat -c '%a %Y' tree/a/f4)"
            test "$(stat -c %a out/tree/a/f3)" = 4711
            test "$(stat -c %h out/tree/hard)" = 2
            echo changed >> tree/a/f5
            ! tar -df t.tar > diffs 2>&1
            grep -q 'tree/a/f5: ' diffs
            rm -rf tree out t.tar diffs
            """), m);
        Done(m);
    }

    [SkippableTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void GitStatusLogAndBranches(bool directIo, bool ioUring)
    {
        Skip.IfNot(File.Exists("/usr/bin/git"), "git missing");
        using var m = new MountedTmpfs(mountOptions: new FuseMountOptions { DirectIo = directIo }, ioUring: ioUring);
        var output = Ok(m.Sh("""
            set -e
            export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
            git init -q -b main repo && cd repo
            git config user.email t@example.com && git config user.name T
            printf 'one\n' > a && mkdir d && printf 'two\n' > d/b
            git add . && git commit -qm first
            git status --porcelain | wc -l
            echo three >> a && echo new > c
            git status --porcelain
            git add -A && git commit -qm second
            git checkout -q -b topic && git rm -q d/b && git commit -qm third
            git checkout -q main && git merge -q --no-edit topic
            git log --format=%s
            git gc -q && git fsck --no-progress --strict 2>&1 | grep -v '^Checking' || true
            git ls-files
            """), m);
        Assert.Equal("0\n M a\n?? c\nthird\nsecond\nfirst\na\nc\n", output);
        Done(m);
    }

    [SkippableTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void DdWithSeekCountAndNotrunc(bool directIo, bool ioUring)
    {
        using var m = new MountedTmpfs(mountOptions: new FuseMountOptions { DirectIo = directIo }, ioUring: ioUring);
        var output = Ok(m.Sh("""
            set -e
            dd if=/dev/zero of=f bs=4k count=16 status=none
            stat -c %s f
            printf 'ABCD' | dd of=f bs=1 seek=100 conv=notrunc status=none
            stat -c %s f
            dd if=f bs=1 skip=100 count=4 status=none; echo
            printf 'XY' | dd of=f bs=1 seek=10 status=none
            stat -c %s f
            dd if=/dev/urandom of=r bs=1M count=2 status=none
            dd if=r of=g bs=64k seek=3 status=none
            stat -c %s g
            cmp -s r g && echo same || echo shifted
            dd if=g of=h bs=64k skip=3 status=none && cmp r h && echo skip-ok
            dd if=/dev/zero of=g bs=1M count=1 seek=1 conv=notrunc status=none
            stat -c %s g
            dd if=g of=/dev/null bs=1M iflag=direct status=none 2>/dev/null || dd if=g of=/dev/null bs=1M status=none
            dd if=/dev/urandom of=s bs=512 count=8 oflag=sync status=none && stat -c %s s
            """), m);
        Assert.Equal("65536\n65536\nABCD\n12\n2293760\nshifted\nskip-ok\n2293760\n4096\n", output);
        Done(m);
    }

    [SkippableTheory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void FioVerifiesWhatItWrote(bool directIo, bool ioUring)
    {
        Skip.IfNot(File.Exists("/usr/bin/fio"), "fio missing (apt-get install -y fio)");
        using var m = new MountedTmpfs(mountOptions: new FuseMountOptions { DirectIo = directIo }, ioUring: ioUring);
        var output = Ok(m.Sh("""
            set -e
            fio --name=verify --directory=. --size=16m --bs=4k --rw=randwrite --ioengine=psync \
                --verify=crc32c --do_verify=1 --verify_fatal=1 --numjobs=2 --group_reporting \
                --output-format=terse --terse-version=3 > terse
            cut -d';' -f5 terse
            fio --name=seq --directory=. --size=8m --bs=1m --rw=write --ioengine=sync --fsync=4 \
                --verify=md5 --output-format=terse > /dev/null
            ls | grep -c '^verify\.'
            """), m);
        Assert.Equal("0\n2\n", output); // error column 0; two job files
        Done(m);
    }
}
