using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace EmailGuard.Dashboard;

/// <summary>
/// Builds a page. Every value goes through <see cref="HtmlEncoder"/> (<c>Text</c>, <c>Attr</c>);
/// <see cref="Raw"/> takes only markup written in this package.
/// </summary>
internal sealed class Html
{
    private static readonly HtmlEncoder s_encoder = HtmlEncoder.Default;
    private readonly StringBuilder _builder = new(16 * 1024);

    public Html Raw(string markup)
    {
        _builder.Append(markup);
        return this;
    }

    public Html Text(string? value)
    {
        if (value is not null)
        {
            s_encoder.Encode(new StringWriter(_builder, CultureInfo.InvariantCulture), value);
        }

        return this;
    }

    public Html Text(long value) => Raw(value.ToString("N0", CultureInfo.InvariantCulture));

    public Html Time(DateTimeOffset? value) => Text(value?.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) ?? "never");

    /// <summary>An attribute value, quoted: <c>name="encoded"</c>.</summary>
    public Html Attr(string name, string? value)
    {
        _builder.Append(' ').Append(name).Append("=\"");
        Text(value ?? string.Empty);
        _builder.Append('"');
        return this;
    }

    public Html Cell(string? value) => Raw("<td>").Text(value).Raw("</td>");

    public Html Cell(long value) => Raw("<td class=\"num\">").Text(value).Raw("</td>");

    /// <summary>The notice every page shows where the store did not answer, so the page still renders and says why.</summary>
    public Html StoreUnavailable(string? prefix, string message)
        => Raw("<p class=\"notice bad store-unavailable\" role=\"alert\">").Text(prefix).Text(message).Raw("</p>");

    public Html Hidden(string name, string? value) => Raw("<input type=\"hidden\"").Attr("name", name).Attr("value", value).Raw(">");

    public override string ToString() => _builder.ToString();
}
