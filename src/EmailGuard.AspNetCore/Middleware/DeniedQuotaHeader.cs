using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// One rule's latest <c>RateLimit</c> header value on a denial, <c>"name";r=0;t=N</c>: a flood's denials carry the same
/// value until N changes, once a second, so it is formatted once a second instead of once per request.
/// </summary>
internal sealed class DeniedQuotaHeader
{
    private Entry? _latest;

    /// <summary>Gets <c>{itemName};r=0;t={resetSeconds}</c>.</summary>
    public string Get(string itemName, long resetSeconds)
    {
        Entry? latest = Volatile.Read(ref _latest);
        if (latest is not null && latest.ResetSeconds == resetSeconds && ReferenceEquals(latest.ItemName, itemName))
        {
            return latest.Value;
        }

        latest = new Entry(itemName, resetSeconds, Format(itemName, 0, resetSeconds));
        Volatile.Write(ref _latest, latest);
        return latest.Value;
    }

    /// <summary>A <c>RateLimit</c> header value: the item, its remaining quota and the seconds until it resets.</summary>
    public static string Format(string itemName, long remaining, long resetSeconds)
        => string.Create(CultureInfo.InvariantCulture, $"{itemName};r={remaining};t={resetSeconds}");

    private sealed class Entry(string itemName, long resetSeconds, string value)
    {
        public string ItemName { get; } = itemName;

        public long ResetSeconds { get; } = resetSeconds;

        public string Value { get; } = value;
    }
}
