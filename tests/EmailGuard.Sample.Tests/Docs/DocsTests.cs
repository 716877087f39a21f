using System.Text.Json;
using System.Text.RegularExpressions;

namespace EmailGuard.Sample.Tests;

/// <summary>The README and docs/ cannot silently rot: their commands, code, JSON and links are checked here.</summary>
public sealed partial class DocsTests
{
    public static TheoryData<string> MarkdownFiles()
    {
        TheoryData<string> data = [];
        foreach ((_, string name) in RepositoryRoot.MarkdownFiles())
        {
            data.Add(name);
        }

        return data;
    }

    [Fact]
    public void Readme_FirstBashBlock_RunsTheSampleAndTheTests()
    {
        MarkdownBlock first = Blocks("README.md").First(b => b.Language == "bash");
        string[] lines = first.Code.Split('\n', StringSplitOptions.TrimEntries);

        lines.Should().Contain("dotnet run --project samples/EmailGuard.Sample");
        // .ci/run executes the first `dotnet test` line of this block: it must stay the whole-solution Release run.
        lines.First(l => l.StartsWith("dotnet test", StringComparison.Ordinal)).Should().Be("dotnet test EmailGuard.sln -c Release");
        File.Exists(Path.Combine(RepositoryRoot.Path, "samples", "EmailGuard.Sample", "EmailGuard.Sample.csproj")).Should().BeTrue();
        File.ReadAllText(Path.Combine(RepositoryRoot.Path, "EmailGuard.sln")).Should().Contain(@"samples\EmailGuard.Sample\EmailGuard.Sample.csproj");
    }

    [Theory]
    [MemberData(nameof(MarkdownFiles))]
    public void CSharpBlocks_Compile_AgainstTheRealAssemblies(string file)
    {
        IReadOnlyList<string> errors = SnippetCompiler.CompileFile([.. Blocks(file).Where(b => b.Language == "csharp")]);

        errors.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(MarkdownFiles))]
    public void CSharpBlocks_UsingAuthentication_RegisterAScheme(string file)
    {
        // Compiling does not catch it: a program that calls UseAuthentication() without AddAuthentication() builds,
        // then stops at start for want of IAuthenticationSchemeProvider (the dashboard's mount snippet did, h86).
        IEnumerable<MarkdownBlock> withoutScheme = Blocks(file)
            .Where(b => b.Language == "csharp" && b.Code.Contains("UseAuthentication()", StringComparison.Ordinal))
            .Where(b => !b.Code.Contains("AddAuthentication(", StringComparison.Ordinal));

        withoutScheme.Should().BeEmpty();
    }

    [Fact]
    public void SnippetCompiler_BrokenSnippet_ReportsTheError()
    {
        MarkdownBlock broken = new("broken.md", 1, "csharp", "builder.Services.AddEmailGuardd();");

        IReadOnlyList<string> errors = SnippetCompiler.Compile(broken);

        errors.Should().ContainSingle().Which.Should().Contain("AddEmailGuardd");
    }

    [Fact]
    public void SnippetCompiler_FragmentUsingApp_CompilesInsideAWebProgram()
    {
        MarkdownBlock fragment = new("fragment.md", 1, "csharp", "builder.Services.AddEmailGuard();\napp.MapGet(\"/\", () => \"ok\");");

        SnippetCompiler.Compile(fragment).Should().BeEmpty();
    }

    [Fact]
    public void SnippetCompiler_FragmentUsingServices_GetsTheBuildersServices()
    {
        MarkdownBlock fragment = new("fragment.md", 1, "csharp", "services.AddEmailGuard();");

        SnippetCompiler.Compile(fragment).Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(MarkdownFiles))]
    public void JsonBlocks_Parse(string file)
    {
        foreach (MarkdownBlock block in Blocks(file).Where(b => b.Language == "json"))
        {
            Action parse = () => JsonDocument.Parse(block.Code, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }).Dispose();
            parse.Should().NotThrow(block.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(MarkdownFiles))]
    public void RelativeLinks_PointToFilesThatExist(string file)
    {
        string full = Path.Combine(RepositoryRoot.Path, file);
        string directory = Path.GetDirectoryName(full)!;
        IEnumerable<string> missing = LinkPattern().Matches(File.ReadAllText(full))
            .Select(m => m.Groups["target"].Value)
            .Where(t => !t.Contains("://", StringComparison.Ordinal) && !t.StartsWith('#') && !t.StartsWith("mailto:", StringComparison.Ordinal))
            .Select(t => t.Split('#')[0])
            .Where(t => !File.Exists(Path.Combine(directory, t)) && !Directory.Exists(Path.Combine(directory, t)));

        missing.Should().BeEmpty();
    }

    private static IReadOnlyList<MarkdownBlock> Blocks(string file) => MarkdownBlock.Read(Path.Combine(RepositoryRoot.Path, file), file);

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex LinkPattern();
}
