using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Tmpfs.Analyzers;

namespace Tmpfs.Tests.Analyzers;

/// <summary>
/// TMPFS001 and TMPFS002 against small programs compiled here: a C# lock on a type marked
/// [NoMonitorLock] (or one derived from it), or such an object converted to object (the way
/// to Monitor.Enter or a lock through an object variable), is an error; holding such a lock
/// its own way, and locking any other object, is not. And the engine's own locks carry the mark.
/// </summary>
public sealed class MonitorLockOnSpinlockAnalyzerTests
{
    private const string Types = """
        using System;
        [AttributeUsage(AttributeTargets.Class, Inherited = true)]
        sealed class NoMonitorLockAttribute : Attribute { }
        [NoMonitorLock]
        class Spinlock
        {
            public IDisposable Hold() => null!;
        }
        class DerivedLock : Spinlock { }
        """;

    [Fact]
    public async Task LockOnAMarkedTypeIsAnError()
    {
        var diagnostics = await Analyze("""
            class C
            {
                readonly Spinlock s = new();
                void M()
                {
                    lock (s) { }
                }
            }
            """);

        var d = Assert.Single(diagnostics);
        Assert.Equal(MonitorLockOnSpinlockAnalyzer.DiagnosticId, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains("Spinlock", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LockOnATypeDerivedFromAMarkedOneIsAnError()
    {
        var diagnostics = await Analyze("""
            class C
            {
                void M(DerivedLock d)
                {
                    lock (d) { }
                }
            }
            """);

        Assert.Equal(MonitorLockOnSpinlockAnalyzer.DiagnosticId, Assert.Single(diagnostics).Id);
    }

    [Fact]
    public async Task ConvertingOneToObjectIsAnError()
    {
        var diagnostics = await Analyze("""
            using System.Threading;
            class C
            {
                readonly Spinlock s = new();
                void M()
                {
                    Monitor.Enter(s);
                    object o = s;
                    lock (o) { }
                }
            }
            """);

        Assert.Equal(2, diagnostics.Length);
        Assert.All(diagnostics, d => Assert.Equal(MonitorLockOnSpinlockAnalyzer.ConversionDiagnosticId, d.Id));
    }

    [Fact]
    public void TheEnginesOwnLocksAreMarked()
    {
        Assert.NotNull(typeof(Tmpfs.Memory.Spinlock).GetCustomAttributes(typeof(Tmpfs.Memory.NoMonitorLockAttribute), inherit: true).SingleOrDefault());
        Assert.NotNull(typeof(Tmpfs.Shmem.RwSemaphore).GetCustomAttributes(typeof(Tmpfs.Memory.NoMonitorLockAttribute), inherit: true).SingleOrDefault());
    }

    [Fact]
    public async Task HoldingItItsOwnWayAndLockingOtherObjectsIsFine()
    {
        var diagnostics = await Analyze("""
            class C
            {
                readonly Spinlock s = new();
                readonly object gate = new();
                void M()
                {
                    using (s.Hold()) { }
                    lock (gate) { }
                    lock (this) { }
                }
            }
            """);

        Assert.Empty(diagnostics);
    }

    private static async Task<ImmutableArray<Diagnostic>> Analyze(string code)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "System.Private.CoreLib.dll")
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create(
            "Probe",
            [CSharpSyntaxTree.ParseText(Types), CSharpSyntaxTree.ParseText(code)],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors)); // the probe itself must compile
        return await compilation.WithAnalyzers([new MonitorLockOnSpinlockAnalyzer()]).GetAnalyzerDiagnosticsAsync();
    }
}
