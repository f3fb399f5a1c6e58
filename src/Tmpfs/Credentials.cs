namespace Tmpfs;

/// <summary>
/// Who makes a call: the fsuid, fsgid and supplementary groups the kernel would check.
/// Uid 0 has the capabilities root has in the initial namespace (CAP_DAC_OVERRIDE,
/// CAP_FOWNER, CAP_CHOWN, CAP_FSETID).
/// </summary>
public readonly record struct Credentials(uint Uid, uint Gid, IReadOnlyList<uint>? Groups = null)
{
    /// <summary>The superuser.</summary>
    public static Credentials Root { get; } = new(0, 0);

    public bool IsRoot => Uid == 0;

    /// <summary>in_group_p(): the fsgid or one of the supplementary groups.</summary>
    public bool InGroup(uint gid)
    {
        if (gid == Gid)
        {
            return true;
        }

        if (Groups is { } groups)
        {
            for (var i = 0; i < groups.Count; i++)
            {
                if (groups[i] == gid)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
