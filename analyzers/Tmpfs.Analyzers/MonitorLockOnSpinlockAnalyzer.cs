using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Tmpfs.Analyzers;

/// <summary>
/// TMPFS001: a <c>lock</c> statement on an object of a type marked <c>[NoMonitorLock]</c>.
/// The engine's own locks (Spinlock, RwSemaphore) are classes, so <c>lock (x)</c> on one
/// compiles, but it takes the object's monitor, which none of their users take: it excludes
/// nothing. They are held with <c>using (x.Hold())</c> and the like.
/// TMPFS002: such an object converted to <c>object</c>, the other way to reach its monitor
/// (<c>Monitor.Enter(x)</c>, <c>object o = x; lock (o)</c>).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class MonitorLockOnSpinlockAnalyzer : DiagnosticAnalyzer
{
    public const string DiagnosticId = "TMPFS001";

    public const string ConversionDiagnosticId = "TMPFS002";

    private const string MarkerName = "NoMonitorLockAttribute";

    private static readonly DiagnosticDescriptor Rule = new(
        DiagnosticId,
        "lock statement on a lock that is not a monitor",
        "'lock' on a {0} takes a monitor that no other user of it takes. Hold it with its own methods, such as Hold().",
        "Correctness",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    private static readonly DiagnosticDescriptor ConversionRule = new(
        ConversionDiagnosticId,
        "a lock that is not a monitor converted to object",
        "A {0} converted to object can be locked as a monitor, which no other user of it takes. Keep it typed as {0}.",
        "Correctness",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule, ConversionRule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterSyntaxNodeAction(AnalyzeLock, SyntaxKind.LockStatement);
        context.RegisterOperationAction(AnalyzeConversion, OperationKind.Conversion);
    }

    private static void AnalyzeConversion(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.Type?.SpecialType == SpecialType.System_Object && IsMarked(conversion.Operand.Type))
        {
            context.ReportDiagnostic(Diagnostic.Create(ConversionRule, conversion.Syntax.GetLocation(), conversion.Operand.Type!.Name));
        }
    }

    private static bool IsMarked(ITypeSymbol? type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            foreach (var attribute in t.GetAttributes())
            {
                if (attribute.AttributeClass?.Name == MarkerName)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static void AnalyzeLock(SyntaxNodeAnalysisContext context)
    {
        var statement = (LockStatementSyntax)context.Node;
        var type = context.SemanticModel.GetTypeInfo(statement.Expression, context.CancellationToken).Type;
        if (IsMarked(type))
        {
            context.ReportDiagnostic(Diagnostic.Create(Rule, statement.Expression.GetLocation(), type!.Name));
        }
    }
}
