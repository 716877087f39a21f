using System.Globalization;

namespace EmailGuard;

/// <summary>An entry of the blocklist or the allowlist.</summary>
public sealed class EmailGuardListEntry
{
    /// <summary>Gets the list the entry is on.</summary>
    public required EmailGuardListKind Kind { get; init; }

    /// <summary>Gets the kind of party.</summary>
    public required EmailGuardPartyType PartyType { get; init; }

    /// <summary>Gets the party: a normalized address, a normalized domain, or a tenant or user id.</summary>
    public required string Value { get; init; }

    /// <summary>Gets why the party is listed, e.g. <c>spam_trap</c> or <c>abuse_report</c>.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets who added the entry.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>Gets when the entry was added.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when the entry stops applying; <see langword="null"/> for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Whether the entry applies at <paramref name="now"/>.</summary>
    /// <param name="now">The time.</param>
    /// <returns><see langword="true"/> when the entry has no expiry or has not reached it.</returns>
    public bool IsActive(DateTimeOffset now) => ExpiresAt is not { } expiresAt || expiresAt > now;

    /// <summary>
    /// The entry in one line for a log or a debugger, e.g. <c>Blocklist Recipient spam@example.com: spam_trap, no expiry</c>;
    /// the value and reason are escaped as log values are, so that a value cannot break or forge the line.
    /// </summary>
    /// <returns>The list, the party, the reason and the expiry.</returns>
    public override string ToString()
        => ExpiresAt is { } expiresAt
            ? string.Create(CultureInfo.InvariantCulture, $"{Kind} {PartyType} {LogValue.Of(Value)}: {LogValue.Of(Reason)}, until {expiresAt:u}")
            : $"{Kind} {PartyType} {LogValue.Of(Value)}: {LogValue.Of(Reason)}, no expiry";

    /// <summary>What names the entry in a store: its list, kind of party and stored value.</summary>
    internal EmailGuardListEntryKey Key => new(Kind, PartyType, Value);
}
