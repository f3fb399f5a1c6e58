namespace Tmpfs.Memory;

/// <summary>
/// Marks a lock type of the engine's own (<see cref="Spinlock"/>, <c>Shmem.RwSemaphore</c>):
/// a C# <c>lock</c> statement on one would take the object's monitor, which none of its
/// users take, and so exclude nothing. The build refuses it (analyzer TMPFS001 in
/// analyzers/Tmpfs.Analyzers).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
internal sealed class NoMonitorLockAttribute : Attribute
{
}
