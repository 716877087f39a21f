using System.Diagnostics.CodeAnalysis;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The address a mail goes to: the one the user typed, checked by EmailGuard's normalizer with every fold turned off,
/// so only its case, width and IDN encoding change (<c>Base-News@Yahoo.com</c> is mailed as <c>base-news@yahoo.com</c>).
/// </summary>
/// <remarks>
/// The guard folds the address again to count it: <c>base-news@yahoo.com</c> counts as <c>base@yahoo.com</c>, and
/// <c>j.doe+shop@gmail.com</c> as <c>jdoe@gmail.com</c>, so every spelling of one inbox shares its limits. The folded form
/// is a counter key, not a mailbox: a Yahoo disposable address reaches its owner, while <c>base@yahoo.com</c> may
/// belong to someone else. The sample's accounts are keyed by this form too, so a reset link only ever goes to the
/// address the account signed up with.
/// </remarks>
public static class DeliveryAddress
{
    private static readonly EmailAddressNormalizationOptions s_asTyped = new() { StripPlusTags = false, FoldProviderAliases = false };

    /// <summary>Validates <paramref name="input"/> and gives the address to mail.</summary>
    public static bool TryParse(string? input, [NotNullWhen(true)] out string? address)
    {
        address = EmailAddressNormalizer.TryNormalize(input, s_asTyped, out NormalizedEmailAddress normalized, out _) ? normalized.Address : null;
        return address is not null;
    }
}
