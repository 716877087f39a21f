namespace EmailGuard.Sample.Tests;

/// <summary>A fenced code block of a Markdown file, with where it starts so a failure can point at it.</summary>
public sealed record MarkdownBlock(string File, int Line, string Language, string Code)
{
    public override string ToString() => $"{File}:{Line} ({Language})";

    /// <summary>Every fenced block (```lang … ```) of a Markdown file.</summary>
    public static IReadOnlyList<MarkdownBlock> Read(string path, string displayName)
    {
        List<MarkdownBlock> blocks = [];
        string[] lines = System.IO.File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string trimmed = lines[i].TrimStart();
            if (!trimmed.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            string language = trimmed[3..].Trim();
            int start = i + 1;
            int end = start;
            while (end < lines.Length && !lines[end].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                end++;
            }

            blocks.Add(new MarkdownBlock(displayName, start, language, string.Join('\n', lines[start..Math.Min(end, lines.Length)])));
            i = end;
        }

        return blocks;
    }
}
