using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// Which tenants are active in a fair-shared rule's window, for the admin's view of the provider budget
/// (<see cref="IEmailSendGuard.GetProviderBudgetAsync"/>). A tenant's registration takes the next number of the
/// window's roster counter in the same atomic acquire as its activity marker, so each active tenant gets exactly one
/// number on whichever instance registers it; its id is then written to the key-value store under that number.
/// </summary>
/// <remarks>
/// Keys are <c>send:fs:r:{shape}:{window}:{number}</c>, values the id's UTF-8 in base64url, so both stay within the
/// key-value contract whatever the id (<see cref="KeyValueStoreValidation"/>); an id too long for a value is counted
/// but not listed. Entries live two windows. Reading lists at most <see cref="EmailProviderBudgetRule.MaxListedTenants"/>.
/// </remarks>
internal sealed class FairShareRoster(IEmailGuardKeyValueStore store, TimeSpan timeout, TimeProvider timeProvider)
{
    private const string KeyPrefix = "send:fs:r:";

    /// <summary>The longest tenant id listed, in UTF-8 bytes: its base64url fits a value.</summary>
    private const int MaxIdBytes = KeyValueStoreValidation.MaxValueLength / 4 * 3;

    /// <summary>Writes the tenant under its number, waiting what is left of the check's <paramref name="storeTime"/>; false when the id is too long to list.</summary>
    public async ValueTask<bool> AddAsync(FairShareBudget budget, long windowIndex, long number, string tenantId, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        if (Encoding.UTF8.GetByteCount(tenantId) > MaxIdBytes)
        {
            return false;
        }

        string value = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(tenantId));
        TimeSpan timeToLive = TimeSpan.FromMilliseconds(2 * budget.Rule.WindowMilliseconds);
        await BoundedCall.WaitAsync(store.SetAsync(Key(budget, windowIndex, number), value, timeToLive, cancellationToken), StoreTimeBudget.Wait(storeTime, timeout), timeProvider, cancellationToken)
            .ConfigureAwait(false);
        return true;
    }

    /// <summary>The listed tenants of the window with numbers 1 to <paramref name="count"/> (at most the listing bound), in order.</summary>
    public async ValueTask<IReadOnlyList<string>> ReadAsync(FairShareBudget budget, long windowIndex, long count, CancellationToken cancellationToken)
    {
        int listed = (int)Math.Clamp(count, 0, EmailProviderBudgetRule.MaxListedTenants);
        string?[] values = await Task.WhenAll(Enumerable.Range(1, listed).Select(number =>
            BoundedCall.WaitAsync(store.GetAsync(Key(budget, windowIndex, number), cancellationToken), timeout, timeProvider, cancellationToken)))
            .ConfigureAwait(false);
        List<string> tenants = new(listed);
        foreach (string? value in values)
        {
            if (Decode(value) is { } tenant)
            {
                tenants.Add(tenant);
            }
        }

        return tenants;
    }

    private static string Key(FairShareBudget budget, long windowIndex, long number)
        => string.Create(CultureInfo.InvariantCulture, $"{KeyPrefix}{budget.Rule.ShapeId}:{windowIndex}:{number}");

    private static string? Decode(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > KeyValueStoreValidation.MaxValueLength)
        {
            return null;
        }

        byte[] bytes = new byte[Base64Url.GetMaxDecodedLength(value.Length)];
        if (Base64Url.DecodeFromChars(value, bytes, out _, out int written) != System.Buffers.OperationStatus.Done)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
