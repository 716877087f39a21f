namespace EmailGuard;

/// <summary>What a message says; the guard never reads it, the transport sends it.</summary>
public sealed class EmailContent
{
    /// <summary>Gets the subject.</summary>
    public string Subject { get; init; } = string.Empty;

    /// <summary>Gets the plain-text body.</summary>
    public string? TextBody { get; init; }

    /// <summary>Gets the HTML body.</summary>
    public string? HtmlBody { get; init; }

    /// <summary>Gets extra headers for the transport to add.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
}
