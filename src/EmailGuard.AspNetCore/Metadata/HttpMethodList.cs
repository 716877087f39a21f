using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>The HTTP methods an EmailGuard policy covers, checked once when the app builds its endpoints.</summary>
internal static class HttpMethodList
{
    private static readonly string[] s_known =
    [
        HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Put, HttpMethods.Patch, HttpMethods.Delete,
        HttpMethods.Options, HttpMethods.Trace, HttpMethods.Connect, HttpMethods.Query,
    ];

    /// <summary>Gets the methods EmailGuard knows, in a fixed order: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, QUERY.</summary>
    public static IReadOnlyList<string> Known => s_known;

    /// <summary>Canonical upper-case names; a typo such as <c>PSOT</c> would otherwise never match and limit nothing.</summary>
    public static string[] Normalize(IReadOnlyCollection<string> methods, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(methods, parameterName);
        if (methods.Count == 0)
        {
            throw new ArgumentException("Name at least one HTTP method, e.g. [\"POST\"]; leave the list unset to cover every method.", parameterName);
        }

        string[] normalized = new string[methods.Count];
        int i = 0;
        foreach (string method in methods)
        {
            normalized[i++] = Array.Find(s_known, known => string.Equals(known, method?.Trim(), StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"'{method}' is not an HTTP method EmailGuard knows; use one of {string.Join(", ", s_known)}.", parameterName);
        }

        return normalized;
    }

    /// <summary>Whether <paramref name="method"/> is in the list; GET covers HEAD, as the endpoint serves both.</summary>
    public static bool Contains(string[] methods, string method)
    {
        foreach (string listed in methods)
        {
            if (string.Equals(listed, method, StringComparison.OrdinalIgnoreCase)
                || (HttpMethods.IsHead(method) && HttpMethods.IsGet(listed)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Methods that only read (RFC 9110 section 9.2.1): viewing a page must never spend a quota.</summary>
    public static bool IsSafe(string method)
        => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);
}
