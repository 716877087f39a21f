namespace EmailGuard;

/// <summary>
/// How addresses are folded into the one form that counters, blocklists and allowlists use, so that every spelling
/// that delivers to one mailbox shares one key. Bound from <c>EmailGuard:SendGuard:AddressNormalization</c>; the
/// endpoint middleware's <c>PerField</c> partitions use the same settings.
/// </summary>
/// <example>
/// <code>
/// services.AddEmailGuard().AddSendGuard(o =>
///     o.AddressNormalization.Providers.Add(new EmailProviderRule
///     {
///         Name = "Example Mail",
///         Domains = { "mail.example", "post.example" },
///         CanonicalDomain = "mail.example",
///         SubaddressSeparators = "+-",
///     }));
/// </code>
/// </example>
public sealed class EmailAddressNormalizationOptions
{
    /// <summary>
    /// Gets or sets whether a <c>+tag</c> is stripped from the local part at every domain, so tagged variants share one
    /// counter. Providers in <see cref="Providers"/> may strip other separators too.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool StripPlusTags { get; set; } = true;

    /// <summary>
    /// Gets or sets whether the provider rules in <see cref="Providers"/> apply: ignored dots (Gmail), alias domains
    /// (<c>googlemail.com</c> to <c>gmail.com</c>), provider sub-addressing separators and subdomain addressing; and
    /// whether source-routed local parts (<c>victim%example.com@relay.test</c>, <c>example.com!victim@relay.test</c>)
    /// fold to the address they route to.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool FoldProviderAliases { get; set; } = true;

    /// <summary>
    /// Gets or sets the provider table. It starts with the built-in rules (Gmail, Microsoft, Yahoo, Fastmail, Proton,
    /// iCloud, Yandex); add rules for other providers. A later rule for a domain replaces an earlier one. The table is
    /// read the first time an address is normalized with these options.
    /// </summary>
    /// <value>The default value is the built-in table documented in <c>docs/address-normalization.md</c>.</value>
    public IList<EmailProviderRule> Providers { get; set; } = EmailProviderRule.CreateDefaults();
}
