namespace EmailGuard;

/// <summary>
/// An <see cref="IEmailContentInspector"/>'s answer: allow, flag or deny, with a reason. The <see langword="default"/>
/// value denies.
/// </summary>
public readonly struct EmailContentVerdict : IEquatable<EmailContentVerdict>
{
    /// <summary>Creates a verdict.</summary>
    /// <param name="kind">Allow, flag or deny.</param>
    /// <param name="reason">
    /// Why, as a short code such as <c>phishing</c>: logged, put in a denial's <see cref="EmailSendDecision.Detail"/>, and
    /// for <see cref="EmailContentVerdictKind.Flag"/> the flag's reason (required then).
    /// </param>
    public EmailContentVerdict(EmailContentVerdictKind kind, string? reason)
    {
        if (kind == EmailContentVerdictKind.Flag)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        }

        Kind = kind;
        Reason = reason;
    }

    /// <summary>Gets the verdict that lets a message through.</summary>
    public static EmailContentVerdict Allow => new(EmailContentVerdictKind.Allow, null);

    /// <summary>Gets what the inspector decided.</summary>
    public EmailContentVerdictKind Kind { get; }

    /// <summary>Gets why, as a short code such as <c>phishing</c>.</summary>
    public string? Reason { get; }

    /// <summary>Creates a verdict that sends the message and flags its user (or tenant) with <paramref name="reason"/>.</summary>
    /// <param name="reason">The flag reason, e.g. <c>suspected_phishing</c>; give it a <see cref="FlagPolicy"/> in <see cref="SendGuardOptions.FlagPolicies"/>.</param>
    /// <returns>The verdict.</returns>
    public static EmailContentVerdict Flag(string reason) => new(EmailContentVerdictKind.Flag, reason);

    /// <summary>Creates a verdict that stops the message.</summary>
    /// <param name="reason">Why, e.g. <c>phishing</c>.</param>
    /// <returns>The verdict.</returns>
    public static EmailContentVerdict Deny(string reason) => new(EmailContentVerdictKind.Deny, reason);

    /// <summary>Compares two verdicts by kind and reason.</summary>
    /// <param name="left">A verdict.</param>
    /// <param name="right">Another verdict.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(EmailContentVerdict left, EmailContentVerdict right) => left.Equals(right);

    /// <summary>Compares two verdicts by kind and reason.</summary>
    /// <param name="left">A verdict.</param>
    /// <param name="right">Another verdict.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(EmailContentVerdict left, EmailContentVerdict right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(EmailContentVerdict other) => Kind == other.Kind && string.Equals(Reason, other.Reason, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is EmailContentVerdict other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Reason);

    /// <inheritdoc/>
    public override string ToString() => Reason is null ? Kind.ToString() : $"{Kind}: {Reason}";
}
