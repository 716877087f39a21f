using System.Collections.Concurrent;
using System.Net;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Stands in for the SNS hosts behind the named HTTP client: serves the test's signing certificate and answers
/// subscription confirmations, and remembers every URL asked for.
/// </summary>
internal sealed class FakeSnsHost : HttpMessageHandler
{
    private readonly ConcurrentQueue<Uri> _requests = new();

    public Dictionary<string, string> Certificates { get; } = new(StringComparer.Ordinal);

    public HttpStatusCode ConfirmationStatus { get; set; } = HttpStatusCode.OK;

    /// <summary>
    /// URLs answered as a handler that follows redirects answers them: with what another URL serves, and that URL as the
    /// response's request (an app that replaced the SNS client's handler with one of its own).
    /// </summary>
    public Dictionary<string, Uri> Redirects { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<Uri> Requests => [.. _requests];

    /// <summary>When set, a fetch of a certificate the host does not serve waits for it (a slow or silent host).</summary>
    public TaskCompletionSource? Hold { get; set; }

    /// <summary>Released once for every held fetch that has arrived.</summary>
    public SemaphoreSlim HeldFetches { get; } = new(0);

    public int CertificateFetches => Requests.Count(u => u.AbsolutePath.EndsWith(".pem", StringComparison.Ordinal));

    public IReadOnlyList<Uri> Confirmations => [.. Requests.Where(u => u.Query.Contains("Action=ConfirmSubscription", StringComparison.Ordinal))];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Uri uri = request.RequestUri!;
        _requests.Enqueue(uri);
        if (uri.Query.Contains("Action=ConfirmSubscription", StringComparison.Ordinal))
        {
            return Task.FromResult(new HttpResponseMessage(ConfirmationStatus) { Content = new StringContent("<ConfirmSubscriptionResponse/>") });
        }

        if (Redirects.TryGetValue(uri.AbsoluteUri, out Uri? target) && Certificates.TryGetValue(target.AbsoluteUri, out string? redirected))
        {
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(redirected),
                RequestMessage = new HttpRequestMessage(HttpMethod.Get, target),
            });
        }

        if (Certificates.TryGetValue(uri.AbsoluteUri, out string? pem))
        {
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(pem) });
        }

        return Hold is { } hold ? HeldAsync(hold.Task) : Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound));
    }

    private async Task<HttpResponseMessage> HeldAsync(Task hold)
    {
        HeldFetches.Release();
        await hold;
        return new HttpResponseMessage(HttpStatusCode.NotFound);
    }
}
