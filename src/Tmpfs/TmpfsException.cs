using System.Diagnostics.CodeAnalysis;

namespace Tmpfs;

/// <summary>
/// A failed filesystem call. <see cref="Errno"/> is the error the Linux kernel's tmpfs
/// returns for the same call, so a FUSE server can send it as it is.
/// </summary>
public sealed class TmpfsException : IOException
{
    public TmpfsException()
        : this(Errno.EIO, "I/O error")
    {
    }

    public TmpfsException(string message)
        : this(Errno.EIO, message)
    {
    }

    public TmpfsException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errno = Errno.EIO;
        HResult = (int)Errno.EIO;
    }

    public TmpfsException(Errno errno, string message)
        : base($"{errno}: {message}")
    {
        Errno = errno;
        HResult = (int)errno;
    }

    /// <summary>The POSIX error number.</summary>
    public Errno Errno { get; }

    /// <summary>Throws the error; the one place engine code raises errors from.</summary>
    [DoesNotReturn]
    internal static void Throw(Errno errno, string message) => throw new TmpfsException(errno, message);

    [DoesNotReturn]
    internal static T Throw<T>(Errno errno, string message) => throw new TmpfsException(errno, message);
}
