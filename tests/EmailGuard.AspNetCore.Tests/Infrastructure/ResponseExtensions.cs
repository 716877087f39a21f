using System.Net;

namespace EmailGuard.AspNetCore.Tests;

internal static class ResponseExtensions
{
    public static string? Header(this HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? string.Join(",", values) : null;

    public static long RetryAfterSeconds(this HttpResponseMessage response)
        => long.Parse(response.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<(int Ok, int Limited)> CountAsync(this Task<HttpResponseMessage[]> responses)
    {
        HttpResponseMessage[] all = await responses;
        return (all.Count(r => r.StatusCode == HttpStatusCode.OK), all.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }
}
