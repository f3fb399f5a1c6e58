namespace Tmpfs.Shmem;

/// <summary>
/// The fields only some inodes use: a device node's number, a symlink's target, extended
/// attributes. Kept apart, made on first use, so that the inode every regular file and
/// directory carries is 16 bytes smaller (the kernel saves the same way with the union of
/// i_pipe, i_cdev and i_link in struct inode).
/// </summary>
/// <remarks>
/// <see cref="Rdev"/> and <see cref="LinkTarget"/> are set once, before the inode is published;
/// <see cref="Xattrs"/> is guarded by the inode lock, as before.
/// </remarks>
internal sealed class RareInodeFields
{
    public ulong Rdev;
    public string? LinkTarget;
    public XattrList? Xattrs;
}
