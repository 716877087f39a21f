namespace EmailGuard.Dashboard;

/// <summary>
/// Values that others wrote (party ids, reasons, who flagged) as they go into an alert's lines. Slack shows a line
/// break in a user id as the start of a line of its own, under the alert's own bot: an id of
/// <c>"bob\n*[Critical] Rotate the keys at …*"</c> would read as a second alert. So a value keeps to its line, and
/// what it hides shows: a tenant id of <c>"ac\u200Bme"</c> (a zero-width space) paged as "Tenant acme suspended".
/// </summary>
internal static class AlertText
{
    /// <summary>
    /// <paramref name="value"/> with every control character, line or paragraph separator and format character
    /// (bidirectional marks, overrides and isolates, zero-width spaces and joiners, the soft hyphen, the BOM, tags)
    /// replaced by a space: what it says stays readable, and it can neither start a line, reorder the text around it,
    /// nor read as another value. A word that mixes scripts (a tenant <c>аcme</c> with a Cyrillic <c>а</c>) has its odd
    /// letters spelled out as <c>\u0430</c> and the value is marked, and a punycode domain is followed by its Unicode
    /// form (<see cref="Lookalikes.Reveal"/>), as on the dashboard's pages.
    /// </summary>
    public static string OneLine(string? value)
        => string.IsNullOrEmpty(value) ? value ?? string.Empty : HiddenCharacters.Replace(Lookalikes.Reveal(value), static (line, _) => line.Append(' '));
}
