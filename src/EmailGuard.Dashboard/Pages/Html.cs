using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace EmailGuard.Dashboard;

/// <summary>
/// Builds a page. Every value goes through <see cref="HtmlEncoder"/> (<c>Text</c>, <c>Attr</c>);
/// <see cref="Raw"/> takes only markup written in this package.
/// </summary>
/// <remarks>
/// Text a reader cannot see is shown (<see cref="Visible"/>): HTML-encoded, a right-to-left override (U+202E) or a
/// zero-width space is still rendered as one, so a tenant id of <c>"\u202Eemca"</c> or <c>"ac\u200Bme"</c> read as
/// <c>acme</c> in the flags list, and its Clear button asked to clear acme's flag; so did a tenant <c>аcme</c> written with
/// a Cyrillic <c>а</c>. An attribute keeps its value as it is: a form carries it back, a link percent-encodes it, and
/// the encoder writes every character beyond ASCII as a reference, so no value ends the attribute or writes markup.
/// </remarks>
internal sealed class Html
{
    private static readonly HtmlEncoder s_encoder = HtmlEncoder.Default;
    private readonly StringBuilder _builder = new(16 * 1024);

    public Html Raw(string markup)
    {
        _builder.Append(markup);
        return this;
    }

    /// <summary>A value as text: every character a reader cannot see written as <c>\uXXXX</c> (<see cref="Visible"/>), then encoded.</summary>
    public Html Text(string? value) => Encoded(value is null ? null : Visible(value));

    public Html Text(long value) => Raw(value.ToString("N0", CultureInfo.InvariantCulture));

    public Html Time(DateTimeOffset? value) => Text(value?.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) ?? "never");

    /// <summary>An attribute value, quoted: <c>name="encoded"</c>.</summary>
    public Html Attr(string name, string? value)
    {
        _builder.Append(' ').Append(name).Append("=\"");
        Encoded(value ?? string.Empty);
        _builder.Append('"');
        return this;
    }

    public Html Cell(string? value) => Raw("<td>").Text(value).Raw("</td>");

    public Html Cell(long value) => Raw("<td class=\"num\">").Text(value).Raw("</td>");

    /// <summary>The notice every page shows where the store did not answer, so the page still renders and says why.</summary>
    public Html StoreUnavailable(string? prefix, string message)
        => Raw("<p class=\"notice bad store-unavailable\" role=\"alert\">").Text(prefix).Text(message).Raw("</p>");

    public Html Hidden(string name, string? value) => Raw("<input type=\"hidden\"").Attr("name", name).Attr("value", value).Raw(">");

    /// <summary>
    /// <paramref name="value"/> with each control (line breaks and tabs included, which a page shows as a space), format
    /// character (zero-width spaces and joiners, bidi marks, embeddings, overrides and isolates, the soft hyphen, the BOM,
    /// tags) and line or paragraph separator written as <c>\uXXXX</c> (<c>\UXXXXXXXX</c> beyond the BMP), as the logs
    /// write them: none of them can hide, reorder or break what is shown around it. A word that mixes scripts
    /// (<c>аcme</c> with a Cyrillic <c>а</c>) has its odd letters spelled out the same way and the value is marked, and a
    /// punycode domain is followed by its Unicode form (<see cref="Lookalikes.Reveal"/>). The value itself when it has none.
    /// </summary>
    internal static string Visible(string value)
        => HiddenCharacters.Replace(Lookalikes.Reveal(value), static (shown, rune) =>
        {
            if (rune.IsBmp)
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:X4}");
            }
            else
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\U{rune.Value:X8}");
            }
        });

    private Html Encoded(string? value)
    {
        if (value is not null)
        {
            s_encoder.Encode(new StringWriter(_builder, CultureInfo.InvariantCulture), value);
        }

        return this;
    }

    public override string ToString() => _builder.ToString();
}
