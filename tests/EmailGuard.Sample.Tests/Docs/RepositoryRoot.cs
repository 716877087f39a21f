namespace EmailGuard.Sample.Tests;

internal static class RepositoryRoot
{
    /// <summary>The folder holding EmailGuard.sln, found upward from the test binaries.</summary>
    public static string Path { get; } = Find();

    public static IEnumerable<(string FullPath, string Name)> MarkdownFiles()
    {
        yield return (System.IO.Path.Combine(Path, "README.md"), "README.md");
        yield return (System.IO.Path.Combine(Path, "samples", "EmailGuard.Sample", "README.md"), "samples/EmailGuard.Sample/README.md");
        foreach (string package in new[] { "EmailGuard", "EmailGuard.Redis", "EmailGuard.AspNetCore", "EmailGuard.Dashboard" })
        {
            yield return (System.IO.Path.Combine(Path, "src", package, "README.md"), $"src/{package}/README.md");
        }

        string docs = System.IO.Path.Combine(Path, "docs");
        if (Directory.Exists(docs))
        {
            foreach (string file in Directory.GetFiles(docs, "*.md").Order(StringComparer.Ordinal))
            {
                yield return (file, "docs/" + System.IO.Path.GetFileName(file));
            }
        }
    }

    private static string Find()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "EmailGuard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No EmailGuard.sln above {AppContext.BaseDirectory}.");
    }
}
