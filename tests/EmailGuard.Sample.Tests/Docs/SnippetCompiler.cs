using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// Compiles the C# blocks of the docs against the real EmailGuard assemblies (and ASP.NET Core), in memory: no
/// project, no restore, no network. A block is compiled the way a reader would paste it:
/// <list type="bullet">
/// <item>a whole program (it calls <c>WebApplication.CreateBuilder</c>) as it is;</item>
/// <item>type declarations (classes, records, interfaces) as a file of their own;</item>
/// <item>anything else as statements inside a web app's Program.cs, after
/// <c>var builder = WebApplication.CreateBuilder(args);</c> (plus <c>services</c> = <c>builder.Services</c> and
/// <c>var app = builder.Build();</c> when the block uses them without declaring them).</item>
/// </list>
/// Only the global usings of a new web project are implied; a block must bring its own <c>using EmailGuard;</c>.
/// </summary>
internal static partial class SnippetCompiler
{
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Net.Http.Json;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Microsoft.AspNetCore.Builder;
        global using Microsoft.AspNetCore.Hosting;
        global using Microsoft.AspNetCore.Http;
        global using Microsoft.AspNetCore.Routing;
        global using Microsoft.Extensions.Configuration;
        global using Microsoft.Extensions.DependencyInjection;
        global using Microsoft.Extensions.Hosting;
        global using Microsoft.Extensions.Logging;
        """;

    private static readonly Lazy<MetadataReference[]> s_references = new(LoadReferences);

    private static readonly CSharpParseOptions s_parseOptions = new(LanguageVersion.Preview);

    public static IReadOnlyList<string> Compile(MarkdownBlock block) => CompileFile([block]);

    /// <summary>
    /// Compiles the C# blocks of one file. Type declarations of the file are visible to its other blocks, as they
    /// would be in the reader's project.
    /// </summary>
    public static IReadOnlyList<string> CompileFile(IReadOnlyList<MarkdownBlock> blocks)
    {
        SyntaxTree usings = CSharpSyntaxTree.ParseText(ImplicitUsings, s_parseOptions, path: "ImplicitUsings.cs");
        SyntaxTree[] declarations =
        [
            .. blocks.Where(b => DeclarationsOnly(b.Code)).Select(b => CSharpSyntaxTree.ParseText(b.Code, s_parseOptions, path: b.ToString())),
        ];
        List<string> errors = [.. Errors([usings, .. declarations], OutputKind.DynamicallyLinkedLibrary, report: null)];
        foreach (MarkdownBlock block in blocks.Where(b => !DeclarationsOnly(b.Code)))
        {
            SyntaxTree program = CSharpSyntaxTree.ParseText(Shape(block.Code), s_parseOptions, path: block.ToString());
            errors.AddRange(Errors([usings, .. declarations, program], OutputKind.ConsoleApplication, report: program));
        }

        return errors;
    }

    private static IEnumerable<string> Errors(SyntaxTree[] trees, OutputKind kind, SyntaxTree? report)
    {
        CSharpCompilation compilation = CSharpCompilation.Create(
            "Snippet",
            trees,
            s_references.Value,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));
        return compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Where(d => report is null || d.Location.SourceTree == report || !d.Location.IsInSource)
            .Select(d => d.ToString());
    }

    private static string Shape(string code)
    {
        if (code.Contains("WebApplication.CreateBuilder", StringComparison.Ordinal)
            || code.Contains("Host.CreateApplicationBuilder", StringComparison.Ordinal))
        {
            return code;
        }

        string usings = string.Join('\n', code.Split('\n').Where(l => l.StartsWith("using ", StringComparison.Ordinal)));
        string body = string.Join('\n', code.Split('\n').Where(l => !l.StartsWith("using ", StringComparison.Ordinal)));
        string services = ServicesUse().IsMatch(body) && !ServicesDeclaration().IsMatch(body) ? "IServiceCollection services = builder.Services;\n" : string.Empty;
        string app = AppUse().IsMatch(body) && !AppDeclaration().IsMatch(body) ? "var app = builder.Build();\n" : string.Empty;
        return $"{usings}\nvar builder = WebApplication.CreateBuilder(args);\n{services}{app}#line 1\n{body}\n";
    }

    private static bool DeclarationsOnly(string code)
    {
        CompilationUnitSyntaxWalker walker = new(CSharpSyntaxTree.ParseText(code, s_parseOptions));
        return walker.HasMembers && !walker.HasStatements;
    }

    private static MetadataReference[] LoadReferences()
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return
        [
            .. tpa.Split(System.IO.Path.PathSeparator)
                .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                .Select(p => MetadataReference.CreateFromFile(p)),
        ];
    }

    [GeneratedRegex(@"(?<![\w.])services\.")]
    private static partial Regex ServicesUse();

    [GeneratedRegex(@"\b(var|IServiceCollection)\s+services\s*=")]
    private static partial Regex ServicesDeclaration();

    [GeneratedRegex(@"(?<![\w.])app\.")]
    private static partial Regex AppUse();

    [GeneratedRegex(@"\b(var|WebApplication)\s+app\s*=")]
    private static partial Regex AppDeclaration();

    private sealed class CompilationUnitSyntaxWalker
    {
        public CompilationUnitSyntaxWalker(SyntaxTree tree)
        {
            var root = (Microsoft.CodeAnalysis.CSharp.Syntax.CompilationUnitSyntax)tree.GetRoot();
            foreach (var member in root.Members)
            {
                if (member is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax)
                {
                    HasStatements = true;
                }
                else
                {
                    HasMembers = true;
                }
            }
        }

        public bool HasMembers { get; }

        public bool HasStatements { get; }
    }
}
