using System.Globalization;
using System.Net.Http;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace EmailGuard.AspNetCore;

/// <summary>
/// SNS signing certificates by URL, fetched through the named <see cref="IHttpClientFactory"/> client, kept for a
/// bounded time and count. Concurrent requests for one URL share one fetch; a failed fetch is remembered briefly so a
/// flood of messages naming a missing certificate does not become a flood of fetches.
/// </summary>
/// <param name="clients">Makes the named SNS client.</param>
/// <param name="options">The SES webhook's options.</param>
/// <param name="time">The app's clock.</param>
/// <param name="shared">The certificates verified on any instance, or null when there is no key-value store.</param>
internal sealed class SnsCertificateCache(IHttpClientFactory clients, SesWebhookOptions options, TimeProvider time, SnsVerifiedCertificates? shared = null)
{
    /// <summary>A certificate is a few KiB; anything much larger is not one.</summary>
    private const int MaxCertificateBytes = 64 * 1024;

    /// <summary>
    /// The most certificate fetches running at once. SNS signs with one certificate per region for months, so a genuine
    /// message almost never needs a fetch; anyone can post a message naming a fresh URL on an SNS host, and each used to
    /// start a fetch of up to <see cref="SesWebhookOptions.FetchTimeout"/>, without bound: a flood of them held as many
    /// outbound connections as it had requests.
    /// </summary>
    internal const int MaxFetchesInFlight = 4;

    private static readonly TimeSpan FailureLifetime = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>
    /// The URLs whose certificate has verified a message from an allowed topic. Only SNS can add one, so they are kept
    /// over every other entry and fetched again past the bound on fetches: every SNS region serves a real certificate
    /// at a public URL, and messages naming them (their fetches succeed) used to push the one that verifies out of the
    /// cache, so that a flood holding the fetch slots turned genuine messages away until SNS gave up on them.
    /// </summary>
    private readonly List<string> _verified = [];

    /// <summary>
    /// The operator's <see cref="SesWebhookOptions.SigningCertificateUrls"/>: verified from the start, so that a fresh
    /// instance, which has verified nothing yet, fetches them past the bound too. Never evicted, and not counted in
    /// <see cref="SesWebhookOptions.CertificateCacheSize"/>.
    /// </summary>
    private readonly HashSet<string> _pinned = Pinned(options);

    /// <summary>
    /// When each verified URL is next written to the shared record: at half its lifetime there, so the record
    /// lapses on no instance that still verifies with it, and a minute after a write that failed.
    /// </summary>
    private readonly Dictionary<string, DateTimeOffset> _shareAgainAt = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _inFlight;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The certificate's RSA SubjectPublicKeyInfo, or null with the reason when it cannot be had.</summary>
    public async ValueTask<(byte[]? PublicKey, string? Error)> GetAsync(Uri url, CancellationToken cancellationToken)
    {
        string key = url.AbsoluteUri;
        DateTimeOffset now = time.GetUtcNow();
        Entry? entry = Claim(key, url, now, pastBound: false);
        if (entry is null)
        {
            // The fetch slots are full. A URL that verified a message on another instance is SNS's as surely as one that
            // verified here: a fresh instance, which has verified nothing yet, must not turn it away. Nothing is
            // remembered of a refusal: the provider's retry (503) may find a free slot, or the certificate cached.
            if (shared is null || !await shared.ContainsAsync(url, cancellationToken).ConfigureAwait(false))
            {
                return (null, string.Create(CultureInfo.InvariantCulture, $"{MaxFetchesInFlight} certificate fetches were already running; {url} was not fetched"));
            }

            entry = Claim(key, url, now, pastBound: true)!;
        }

        // The fetch runs on its own timeout, not the request's: one caller giving up must not fail the others.
        (byte[]? publicKey, string? error, DateTimeOffset? notAfter) = await entry.Fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (publicKey is null)
            {
                entry.ExpiresAt = Min(entry.ExpiresAt, now + FailureLifetime);
            }
            else
            {
                entry.Succeeded = true;
                if (notAfter is { } expiry)
                {
                    entry.ExpiresAt = Min(entry.ExpiresAt, expiry);
                }
            }
        }

        return (publicKey, error);
    }

    /// <summary>
    /// Fetches the pinned certificates, so that the first genuine message after a start needs no fetch. Never throws
    /// but for <paramref name="cancellationToken"/>; answers the URLs that could not be had, with the reason.
    /// </summary>
    public async Task<IReadOnlyList<(string Url, string Error)>> WarmAsync(CancellationToken cancellationToken)
    {
        (string Url, string? Error)[] results = await Task.WhenAll(_pinned.Select(async url =>
        {
            (byte[]? publicKey, string? error) = await GetAsync(new Uri(url), cancellationToken).ConfigureAwait(false);
            return (url, publicKey is null ? error ?? "no certificate" : null);
        })).ConfigureAwait(false);
        return [.. results.Where(r => r.Error is not null).Select(r => (r.Url, r.Error!))];
    }

    /// <summary>
    /// Records that the certificate at <paramref name="url"/> verified a message from an allowed topic, here and for the
    /// other instances. Never throws but for <paramref name="cancellationToken"/>.
    /// </summary>
    public async ValueTask VerifiedAsync(Uri url, CancellationToken cancellationToken)
    {
        string key = url.AbsoluteUri;
        DateTimeOffset now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_pinned.Contains(key) && !_verified.Contains(key))
            {
                // SNS rotates a region's certificate rarely; the oldest names are the ones no longer used.
                if (_verified.Count >= Math.Max(1, options.CertificateCacheSize))
                {
                    _shareAgainAt.Remove(_verified[0]);
                    _verified.RemoveAt(0);
                }

                _verified.Add(key);
            }

            if (shared is null || (_shareAgainAt.TryGetValue(key, out DateTimeOffset at) && now < at))
            {
                return;
            }

            _shareAgainAt[key] = now + (options.CertificateCacheLifetime / 2);
        }

        if (!await shared.AddAsync(url, cancellationToken).ConfigureAwait(false))
        {
            lock (_lock)
            {
                if (_shareAgainAt.ContainsKey(key))
                {
                    _shareAgainAt[key] = now + FailureLifetime;
                }
            }
        }
    }

    /// <summary>
    /// The entry of <paramref name="key"/>, a fetch started for it when there is none live, or null when that fetch would
    /// pass the bound and neither the URL nor <paramref name="pastBound"/> allows it.
    /// </summary>
    private Entry? Claim(string key, Uri url, DateTimeOffset now, bool pastBound)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out Entry? entry) && entry.ExpiresAt > now)
            {
                return entry;
            }

            if (!pastBound && _inFlight >= MaxFetchesInFlight && !_pinned.Contains(key) && !_verified.Contains(key))
            {
                return null;
            }

            MakeRoom(key, now);
            _inFlight++;
            entry = new Entry(FetchAsync(url), now + options.CertificateCacheLifetime);
            _entries[key] = entry;
            return entry;
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static HashSet<string> Pinned(SesWebhookOptions options)
    {
        HashSet<string> pinned = new(StringComparer.Ordinal);
        foreach (string url in options.SigningCertificateUrls)
        {
            // The validator refused the app's start on any other; keyed as a message's URL is, by its parsed form.
            if (SnsHosts.IsTrusted(url, requirePem: true, out Uri? uri))
            {
                pinned.Add(uri!.AbsoluteUri);
            }
        }

        return pinned;
    }

    private void MakeRoom(string key, DateTimeOffset now)
    {
        foreach (KeyValuePair<string, Entry> expired in _entries.Where(e => e.Value.ExpiresAt <= now).ToList())
        {
            _entries.Remove(expired.Key);
        }

        // Pinned certificates are held apart from the bound, so a pinned one needs no room and is never the one to go.
        if (_pinned.Contains(key))
        {
            return;
        }

        // Failed and pending fetches go first, then certificates that never verified a message: messages naming
        // certificates that do not exist, or real ones of other regions (anyone can send those), must not push the
        // signing certificate out and force a fetch for every genuine message.
        while (_entries.Count(e => !_pinned.Contains(e.Key)) >= Math.Max(1, options.CertificateCacheSize))
        {
            string victim = _entries.Where(e => !_pinned.Contains(e.Key))
                .OrderBy(e => _verified.Contains(e.Key)).ThenBy(e => e.Value.Succeeded).ThenBy(e => e.Value.ExpiresAt).First().Key;
            _entries.Remove(victim);
        }
    }

    private async Task<(byte[]?, string?, DateTimeOffset?)> FetchAsync(Uri url)
    {
        // Leave the caller's lock before any I/O.
        await Task.Yield();
        try
        {
            using var timeout = new CancellationTokenSource(options.FetchTimeout, time);
            HttpClient client = clients.CreateClient(EmailGuardWebhookOptions.SnsHttpClientName);
            using HttpResponseMessage response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"{url} answered {(int)response.StatusCode}", null);
            }

            // EmailGuard's handler follows no redirect; one the app configured for this client may. A key served by another
            // URL than the trusted SNS host's one that was asked for is not SNS's.
            if (response.RequestMessage?.RequestUri is { } answeredFrom && answeredFrom != url)
            {
                return (null, $"{url} was answered from {answeredFrom.GetLeftPart(UriPartial.Path)}: a redirect, which is not followed for SNS certificates", null);
            }

            if (response.Content.Headers.ContentLength > MaxCertificateBytes)
            {
                return (null, $"{url} is larger than {MaxCertificateBytes} bytes", null);
            }

            Stream stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            await using ConfiguredAsyncDisposable streamScope = stream.ConfigureAwait(false);
            byte[] buffer = new byte[MaxCertificateBytes + 1];
            int total = 0;
            int read;
            while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), timeout.Token).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            if (total > MaxCertificateBytes)
            {
                return (null, $"{url} is larger than {MaxCertificateBytes} bytes", null);
            }

            using X509Certificate2 certificate = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(buffer, 0, total));
            DateTimeOffset now = time.GetUtcNow();
            if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
            {
                return (null, $"the certificate at {url} is not valid now", null);
            }

            using RSA? rsa = certificate.GetRSAPublicKey();
            return rsa is null
                ? (null, $"the certificate at {url} has no RSA key", null)
                : (rsa.ExportSubjectPublicKeyInfo(), null, new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or CryptographicException or IOException or ArgumentException)
        {
            return (null, $"fetching {url} failed: {exception.GetType().Name}", null);
        }
        finally
        {
            lock (_lock)
            {
                _inFlight--;
            }
        }
    }

    private sealed class Entry(Task<(byte[]?, string?, DateTimeOffset?)> fetch, DateTimeOffset expiresAt)
    {
        public Task<(byte[]? PublicKey, string? Error, DateTimeOffset? NotAfter)> Fetch { get; } = fetch;

        public DateTimeOffset ExpiresAt { get; set; } = expiresAt;

        public bool Succeeded { get; set; }
    }
}
