using Tmpfs.Shmem;

namespace Tmpfs;

/// <summary>
/// Calls whose common failure is an answer, not an error: a miss returns false (or -1)
/// instead of throwing. The FUSE server makes them for every create (the negative LOOKUP
/// before CREATE) and every file `ls -l` lists (GETXATTR security.selinux); a .NET throw
/// and catch costs about ten times the rest of the call. Same checks and errnos otherwise.
/// </summary>
public sealed partial class NodeOperations
{
    /// <summary>As <see cref="Lookup"/>, but a name that does not exist is false (no lookup taken) instead of ENOENT.</summary>
    public bool TryLookup(long parent, string name, Credentials cred, out StatInfo entry)
    {
        using (fs.EnterRead())
        {
            var dir = Directory(parent);
            Permission.Check(dir, AccessMode.Execute, cred);
            Inode? inode;
            if (name is "." or "..")
            {
                inode = name == "." ? dir : dir.Dir!.Parent;
            }
            else
            {
                PathWalk.CheckName(name);
                inode = dir.Dir!.Lookup(name);
            }

            if (inode is null)
            {
                entry = default;
                return false;
            }

            entry = Referenced(inode);
            return true;
        }
    }

    /// <summary>As <see cref="GetXattr"/>, but a missing attribute is -1 instead of ENODATA.</summary>
    public int TryGetXattr(long node, string name, Span<byte> buffer, Credentials cred) =>
        XattrOps.TryGet(Node(node), name, buffer, cred);
}
