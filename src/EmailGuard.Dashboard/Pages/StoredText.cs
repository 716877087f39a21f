using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.Dashboard;

/// <summary>
/// How a Remove or Clear form names a text the store holds: a list entry's value, a flagged party's id, a flag's reason.
/// The app or a breaker wrote it through the public API, which takes any length and any character, so a form cannot
/// always carry it back as it is: a long one would be refused as an action's field (or, taken, would make every form of
/// the page that long), and a browser does not post back every character a page holds (it sends each line break as
/// CR LF, a control character's reference as another character, half of a surrogate pair as U+FFFD), which would name
/// another entry or none.
/// </summary>
/// <remarks>
/// A plain text (at most <see cref="DashboardActions.MaxFieldLength"/> characters, none of those) goes in its field as it
/// is. Any other goes as its SHA-256 in the field <c>name-sha256</c>, with its plain beginning in the field itself, which
/// narrows the search for it and is what the question and notice quote. The action then acts on the stored text with
/// that digest, so on exactly the one the page showed, or on none when it changed since.
/// </remarks>
internal static class StoredText
{
    /// <summary>The suffix of the field that carries a text's digest.</summary>
    public const string DigestSuffix = "-sha256";

    /// <summary>Writes the hidden fields that carry <paramref name="text"/> under <paramref name="name"/>.</summary>
    public static Html Carry(this Html html, string name, string text)
        => IsPlain(text) ? html.Hidden(name, text) : html.Hidden(name, Beginning(text)).Hidden(name + DigestSuffix, Digest(text));

    /// <summary>The digest a form carries for the field <paramref name="name"/>, or <see langword="null"/> when it carries the text itself.</summary>
    public static string? DigestIn(IFormCollection form, string name)
        => form[name + DigestSuffix].ToString() is { Length: > 0 } digest ? digest : null;

    /// <summary>Whether <paramref name="text"/> is the text whose digest a form carries.</summary>
    public static bool Is(string text, string digest) => string.Equals(Digest(text), digest, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether a page can carry <paramref name="text"/> in a form and get it back as it is: no longer than an action takes
    /// a field, well-formed UTF-16, no control character.
    /// </summary>
    internal static bool IsPlain(string text) => text.Length <= DashboardActions.MaxFieldLength && Beginning(text).Length == text.Length;

    /// <summary>The SHA-256 of the text's UTF-16 code units, so that two texts that differ in a lone surrogate differ in it too.</summary>
    internal static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(text.AsSpan())));

    /// <summary>The longest plain beginning of <paramref name="text"/>, cut between characters (never inside a surrogate pair).</summary>
    private static string Beginning(string text)
    {
        ReadOnlySpan<char> rest = text.AsSpan(0, Math.Min(text.Length, DashboardActions.MaxFieldLength));
        int length = 0;
        while (Rune.DecodeFromUtf16(rest[length..], out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done && !Rune.IsControl(rune))
        {
            length += consumed;
        }

        return text[..length];
    }
}
