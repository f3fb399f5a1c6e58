using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Tmpfs.Analyzers;

/// <summary>
/// TMPFS001: a <c>lock</c> statement on an object of a type marked <c>[NoMonitorLock]</c>.
/// The engine's own locks (Spinlock, RwSemaphore) are classes, so <c>lock (x)</c> on one
/// compiles, but it takes the object's monitor, which none of their users take: it excludes
/// nothing. They are held with <c>using (x.Hold())</c> and the like.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class MonitorLockOnSpinlockAnalyzer : DiagnosticAnalyzer
{
    public const string DiagnosticId = "TMPFS001";

    private const string MarkerName = "NoMonitorLockAttribute";

    private static readonly DiagnosticDescriptor Rule = new(
        DiagnosticId,
        "lock statement on a lock that is not a monitor",
        "'lock' on a {0} takes a monitor that no other user of it takes. Hold it with its own methods, such as Hold().",
        "Correctness",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterSyntaxNodeAction(AnalyzeLock, SyntaxKind.LockStatement);
    }

    private static void AnalyzeLock(SyntaxNodeAnalysisContext context)
    {
        var statement = (LockStatementSyntax)context.Node;
        var type = context.SemanticModel.GetTypeInfo(statement.Expression, context.CancellationToken).Type;
        for (var t = type; t is not null; t = t.BaseType)
        {
            foreach (var attribute in t.GetAttributes())
            {
                if (attribute.AttributeClass?.Name == MarkerName)
                {
                    context.ReportDiagnostic(Diagnostic.Create(Rule, statement.Expression.GetLocation(), type!.Name));
                    return;
                }
            }
        }
    }
}
