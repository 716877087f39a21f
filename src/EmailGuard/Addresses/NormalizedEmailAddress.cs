namespace EmailGuard;

/// <summary>
/// An address in canonical form: lower-case ASCII local part (plus-tag stripped and provider rules applied when
/// configured) and IDNA ASCII domain (provider alias domains folded).
/// </summary>
/// <param name="LocalPart">The canonical local part.</param>
/// <param name="Domain">The canonical domain, e.g. <c>xn--bcher-kva.example</c>.</param>
public readonly record struct NormalizedEmailAddress(string LocalPart, string Domain)
{
    /// <summary>Gets the canonical address, <c>local@domain</c>.</summary>
    public string Address => $"{LocalPart}@{Domain}";

    /// <inheritdoc />
    public override string ToString() => Address;
}
