using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// A parsed <c>METHOD:/path</c> pattern, or <c>METHOD:/path?handler=Name</c> for one handler of a Razor page; matching
/// walks the path in place without allocating.
/// </summary>
internal sealed class PathPattern
{
    /// <summary>The methods a pattern may name: RFC 9110's, PATCH and QUERY.</summary>
    private static readonly string[] s_methodNames = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"];

    private static readonly HashSet<string> s_methods = new(s_methodNames, StringComparer.OrdinalIgnoreCase);

    private readonly string[] _segments;

    /// <summary>Each literal segment folded as a route value is (<see cref="PartitionValueKey"/>), for <see cref="Matches"/> with folding.</summary>
    private readonly string[] _foldedSegments;

    private PathPattern(string text, string? method, string[] segments, bool trailingWildcard, bool isFallback, string? handler = null)
    {
        Text = text;
        Method = method;
        Handler = handler;
        _segments = segments;
        _foldedSegments = [.. segments.Select(static s => PartitionValueKey.Fold(s, PartitionValueComparison.IgnoreCase))];
        TrailingWildcard = trailingWildcard;
        IsFallback = isFallback;
        LiteralPath = new PathString("/" + string.Join('/', segments));
        LiteralSegments = segments.Count(s => s != "*");
    }

    public string Text { get; }

    /// <summary>The path with single slashes, as routing would match it; meaningful when the path holds no wildcard.</summary>
    public PathString LiteralPath { get; }

    /// <summary>The method, or null for any.</summary>
    public string? Method { get; }

    /// <summary>
    /// The Razor page handler the rule names (<c>Confirm</c> in <c>POST:/share?handler=Confirm</c>), or null for a rule on
    /// the path. Razor Pages takes a page's handler from its route or its query, never from the path alone, so such a
    /// rule matches no path on its own: it applies to a page's requests that run the handler, through the page's routes.
    /// </summary>
    public string? Handler { get; }

    public bool TrailingWildcard { get; }

    public bool IsFallback { get; }

    public int LiteralSegments { get; }

    /// <summary>Whether the path holds a wildcard: the fallback, or a <c>*</c> segment. The method does not count.</summary>
    public bool HasWildcardPath => IsFallback || LiteralSegments < _segments.Length;

    public int SegmentCount => _segments.Length;

    private int RankedLiterals => LiteralSegments + (Handler is null ? 0 : 1);

    private int RankedSegments => SegmentCount + (Handler is null ? 0 : 1);

    public static bool TryParse(string? text, out PathPattern? pattern, out string? error)
    {
        pattern = null;
        string value = text?.Trim() ?? string.Empty;
        if (value.Length == 0)
        {
            error = "the endpoint pattern is empty";
            return false;
        }

        if (value is "*" or "*:*")
        {
            pattern = new PathPattern("*", null, [], trailingWildcard: false, isFallback: true);
            error = null;
            return true;
        }

        int colon = value.IndexOf(':', StringComparison.Ordinal);
        string methodPart = colon < 0 ? "*" : value[..colon].Trim();
        string pathPart = colon < 0 ? value : value[(colon + 1)..].Trim();
        if (methodPart.Length == 0 || !(methodPart == "*" || methodPart.All(char.IsAsciiLetter)))
        {
            error = $"'{value}' has no valid HTTP method before ':' (use GET, POST, … or *)";
            return false;
        }

        // A misspelt method (PSOT) would match no request and leave the path unlimited without a word.
        if (methodPart != "*" && !s_methods.Contains(methodPart))
        {
            error = $"'{value}' names the HTTP method '{methodPart}', which is not one of {string.Join(", ", s_methodNames)}; use * for any method";
            return false;
        }

        // A rule is matched against the path, which holds no query; a query written into it matched nothing and left the
        // endpoint unlimited without a word. The one query a rule may hold names a Razor page handler.
        string? handler = null;
        int query = pathPart.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            if (!TryParseHandler(pathPart.AsSpan(query + 1), out handler))
            {
                error = $"'{value}' has the query '{pathPart[query..]}'; a rule matches the path, and its query may only name a Razor page handler, as in POST:/share?handler=Confirm";
                return false;
            }

            pathPart = pathPart[..query].Trim();
            if (pathPart == "*" || pathPart.Split('/').Contains("*"))
            {
                error = $"'{value}' names a page handler on a path with a wildcard; name it on the page's path, as in POST:/share?handler=Confirm";
                return false;
            }
        }

        if (pathPart == "*")
        {
            pattern = new PathPattern(value, methodPart == "*" ? null : methodPart.ToUpperInvariant(), [], false, isFallback: true);
            error = null;
            return true;
        }

        if (!pathPart.StartsWith('/'))
        {
            error = $"'{value}' must have a path that starts with '/' after the method, e.g. POST:/api/webhook/incoming";
            return false;
        }

        string[] segments = pathPart.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < segments.Length; i++)
        {
            if (segments[i].Contains('*', StringComparison.Ordinal) && segments[i] != "*")
            {
                error = $"'{value}' uses '*' inside a segment; '*' must be a whole segment";
                return false;
            }
        }

        bool trailing = segments.Length > 0 && segments[^1] == "*";
        pattern = new PathPattern(value, methodPart == "*" ? null : methodPart.ToUpperInvariant(), segments, trailing, isFallback: false, handler);
        error = null;
        return true;
    }

    /// <summary>
    /// Reads <c>handler=Name</c>, the key in any case as the query's keys are, and a name a handler method can have
    /// (<c>OnPostConfirm</c> is <c>Confirm</c>): letters, digits and underscores.
    /// </summary>
    private static bool TryParseHandler(ReadOnlySpan<char> query, out string? handler)
    {
        handler = null;
        int equals = query.IndexOf('=');
        if (equals < 0 || !query[..equals].Equals("handler", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        ReadOnlySpan<char> name = query[(equals + 1)..];
        foreach (char c in name)
        {
            if (!char.IsLetterOrDigit(c) && CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.ConnectorPunctuation or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark))
            {
                return false;
            }
        }

        handler = name.IsEmpty ? null : name.ToString();
        return handler is not null;
    }

    /// <summary>Whether a request with <paramref name="method"/> and <paramref name="path"/> matches.</summary>
    /// <param name="method">The request's method.</param>
    /// <param name="path">The request's path, as the server decoded it.</param>
    /// <param name="foldSegments">
    /// Whether a path segment also matches a literal segment it equals once folded as a route value is: surrounding white
    /// space and invisible characters dropped, case, width and compatibility forms folded. A literal segment is often one
    /// value of a route parameter (<c>/api/tenants/{tenant}/invite</c>), which the app looks up as one value in every
    /// spelling (SQL Server compares <c>'acme '</c> equal to <c>'acme'</c>), so a rule must count them all. An allowlist
    /// entry does not fold: folded, it would exempt spellings that other endpoints serve.
    /// </param>
    public bool Matches(string method, string? path, bool foldSegments = false)
    {
        if (!HttpMethodCoverage.Covers(Method, method))
        {
            return false;
        }

        if (IsFallback)
        {
            return true;
        }

        ReadOnlySpan<char> rest = path.AsSpan();
        for (int i = 0; i < _segments.Length; i++)
        {
            if (!NextSegment(ref rest, out ReadOnlySpan<char> segment))
            {
                return false;
            }

            string expected = _segments[i];
            if (expected == "*")
            {
                if (TrailingWildcard && i == _segments.Length - 1)
                {
                    return true;
                }

                continue;
            }

            if (!SegmentMatches(segment, i, foldSegments))
            {
                return false;
            }
        }

        return !NextSegment(ref rest, out _);
    }

    /// <summary>
    /// Whether <paramref name="path"/> lies below this pattern's path: the pattern has no wildcard and names no page
    /// handler, each of its segments matches as <see cref="Matches"/> with folding decides, and at least one segment
    /// follows. That is how <c>app.Map</c> and <c>StartsWithSegments</c> serve a path: the branch of
    /// <c>/api/webhook/incoming</c> runs for <c>/api/webhook/incoming/x</c> too.
    /// </summary>
    /// <param name="method">The request's method.</param>
    /// <param name="path">The request's path, as the server decoded it.</param>
    public bool IsBelow(string method, string? path)
    {
        if (HasWildcardPath || Handler is not null || _segments.Length == 0 || !HttpMethodCoverage.Covers(Method, method))
        {
            return false;
        }

        ReadOnlySpan<char> rest = path.AsSpan();
        for (int i = 0; i < _segments.Length; i++)
        {
            if (!NextSegment(ref rest, out ReadOnlySpan<char> segment) || !SegmentMatches(segment, i, foldSegments: true))
            {
                return false;
            }
        }

        return NextSegment(ref rest, out _);
    }

    /// <summary>Whether a path segment matches the pattern's literal segment <paramref name="index"/>.</summary>
    private bool SegmentMatches(ReadOnlySpan<char> segment, int index, bool foldSegments)
        => segment.Equals(_segments[index], StringComparison.OrdinalIgnoreCase) || (foldSegments && FoldedEquals(segment, _foldedSegments[index]));

    /// <summary>
    /// Whether the pattern's path begins with every segment of <paramref name="pathBase"/> as literal segments, as a
    /// rule written with the app's path base does: matched against the path below the base, it matches none of them.
    /// </summary>
    /// <param name="pathBase">The request's <c>PathBase</c>, non-empty.</param>
    public bool StartsWithBase(string pathBase)
    {
        if (IsFallback)
        {
            return false;
        }

        ReadOnlySpan<char> rest = pathBase.AsSpan();
        int i = 0;
        while (NextSegment(ref rest, out ReadOnlySpan<char> segment))
        {
            if (i >= _segments.Length || _segments[i] == "*" || !segment.Equals(_segments[i], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            i++;
        }

        return i > 0;
    }

    /// <summary>The pattern as written without the first <paramref name="baseSegments"/> segments of its path.</summary>
    public string WithoutBase(int baseSegments)
        => $"{Method ?? "*"}:/{string.Join('/', _segments.Skip(baseSegments))}{(Handler is null ? null : "?handler=" + Handler)}";

    /// <summary>Orders patterns so that the most specific one that matches wins, the fallback last.</summary>
    public static int CompareSpecificity(PathPattern a, PathPattern b)
    {
        if (a.IsFallback != b.IsFallback)
        {
            return a.IsFallback ? 1 : -1;
        }

        // A handler the rule names counts as one more literal segment, as it does written in the path of a page whose
        // route has a {handler?} segment (/share/confirm): narrower than the page's path and its wildcards.
        int byLiterals = b.RankedLiterals.CompareTo(a.RankedLiterals);
        if (byLiterals != 0)
        {
            return byLiterals;
        }

        if (a.TrailingWildcard != b.TrailingWildcard)
        {
            return a.TrailingWildcard ? 1 : -1;
        }

        int bySegments = b.RankedSegments.CompareTo(a.RankedSegments);
        if (bySegments != 0)
        {
            return bySegments;
        }

        int byHandler = (a.Handler is null).CompareTo(b.Handler is null);
        if (byHandler != 0)
        {
            return byHandler;
        }

        int byAnyMethod = (a.Method is null).CompareTo(b.Method is null);
        if (byAnyMethod != 0)
        {
            return byAnyMethod;
        }

        // A GET rule also matches HEAD; a rule written for HEAD itself is the more specific one. It never matches GET,
        // so putting it first changes nothing else.
        return HttpMethods.IsHead(b.Method ?? string.Empty).CompareTo(HttpMethods.IsHead(a.Method ?? string.Empty));
    }

    /// <summary>
    /// Whether <paramref name="segment"/> folds to <paramref name="folded"/>. A segment of printable ASCII without spaces
    /// folds to itself in lower case, which the case-insensitive comparison has already decided, so only another one (a
    /// rare request, chosen to dodge) is folded, and allocates.
    /// </summary>
    private static bool FoldedEquals(ReadOnlySpan<char> segment, string folded)
        => segment.ContainsAnyExceptInRange('!', '~')
           && string.Equals(PartitionValueKey.Fold(segment.ToString(), PartitionValueComparison.IgnoreCase), folded, StringComparison.Ordinal);

    /// <summary>Returns the next non-empty segment, so that doubled and trailing slashes do not dodge a rule.</summary>
    private static bool NextSegment(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> segment)
    {
        rest = rest.TrimStart('/');
        if (rest.IsEmpty)
        {
            segment = default;
            return false;
        }

        int slash = rest.IndexOf('/');
        segment = slash < 0 ? rest : rest[..slash];
        rest = slash < 0 ? default : rest[slash..];
        return true;
    }

    public override string ToString() => Text;
}
