namespace EmailGuard;

/// <summary>
/// What one mail provider treats as the same mailbox: alias domains, ignored dots, sub-addressing separators and
/// subdomain addressing. Used by <see cref="EmailAddressNormalizationOptions.Providers"/>.
/// </summary>
public sealed class EmailProviderRule
{
    /// <summary>Gets or sets a name for messages and documentation, e.g. <c>Gmail</c>.</summary>
    /// <value>The default value is an empty string.</value>
    public string Name { get; set; } = string.Empty;

    /// <summary>Gets or sets the domains the rule applies to, e.g. <c>gmail.com</c> and <c>googlemail.com</c>.</summary>
    /// <value>The default value is an empty list.</value>
    public IList<string> Domains { get; set; } = [];

    /// <summary>
    /// Gets or sets the domain every domain in <see cref="Domains"/> folds to, when they are aliases of one mailbox
    /// (<c>googlemail.com</c> to <c>gmail.com</c>); <see langword="null"/> keeps each domain apart.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? CanonicalDomain { get; set; }

    /// <summary>Gets or sets whether dots in the local part are ignored by the provider (Gmail).</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IgnoreDots { get; set; }

    /// <summary>
    /// Gets or sets characters the provider ignores anywhere in the local part, as Proton ignores <c>.</c>, <c>-</c> and
    /// <c>_</c> (<c>john.doe</c>, <c>john-doe</c> and <c>john_doe</c> are <c>johndoe</c>). Sub-addressing separators are
    /// cut first. <see cref="IgnoreDots"/> is the same as listing <c>.</c> here.
    /// </summary>
    /// <value>The default value is an empty string.</value>
    public string IgnoredCharacters { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the characters that start a sub-address the provider delivers to the base mailbox: <c>+</c> for
    /// plus addressing, <c>-</c> for Yahoo's disposable addresses. The first one in the local part ends the mailbox name.
    /// </summary>
    /// <value>The default value is <c>+</c>.</value>
    public string SubaddressSeparators { get; set; } = "+";

    /// <summary>
    /// Gets or sets whether <c>anything@user.domain</c> is delivered to <c>user@domain</c> (Fastmail's subdomain addressing).
    /// A host name cannot hold <c>_</c>, so Fastmail lets <c>-</c> stand for it in the subdomain: with this rule on,
    /// <c>_</c> and <c>-</c> in a mailbox name share one key (<c>joe_citizen</c> and <c>joe-citizen</c> are counted as one).
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool SubdomainAddressing { get; set; }

    /// <summary>Creates the built-in provider table; each call returns new, independent rules.</summary>
    /// <returns>The built-in rules.</returns>
    public static IList<EmailProviderRule> CreateDefaults() =>
    [
        new() { Name = "Gmail", Domains = ["gmail.com", "googlemail.com"], CanonicalDomain = "gmail.com", IgnoreDots = true },
        new()
        {
            Name = "Microsoft",
            Domains =
            [
                "outlook.com", "hotmail.com", "live.com", "msn.com", "windowslive.com",

                // Outlook.com's country domains, each a namespace of its own (docs/address-normalization.md lists the source).
                "hotmail.at", "hotmail.ca", "hotmail.co.il", "hotmail.co.uk", "hotmail.com.ar", "hotmail.com.au", "hotmail.com.br",
                "hotmail.com.tr", "hotmail.de", "hotmail.dk", "hotmail.es", "hotmail.fr", "hotmail.it", "hotmail.se", "live.at", "live.ca",
            ],
        },
        new() { Name = "Yahoo", Domains = ["yahoo.com"], SubaddressSeparators = "-" },
        // Plus and subdomain addressing at every Fastmail domain (fastmail.help/hc/en-us/articles/360060591053); each
        // domain is a namespace of its own. Fastmail's other domains are not listed until a Fastmail page names them.
        new() { Name = "Fastmail", Domains = ["fastmail.com", "fastmail.fm"], SubdomainAddressing = true },
        new() { Name = "Proton", Domains = ["proton.me", "protonmail.com", "protonmail.ch", "pm.me"], CanonicalDomain = "proton.me", IgnoredCharacters = "._-" },
        new() { Name = "iCloud", Domains = ["icloud.com", "me.com", "mac.com"], CanonicalDomain = "icloud.com" },
        // Every Yandex Mail mailbox has its user name at six Yandex domains, all delivering to it
        // (yandex.com/support/domain/additional/mailbox-alias.xml; yandex.com/support/id/authorization/email.html).
        // '+tag' is cut as Yandex delivers login+tag to login; '.' against '-' and narod.ru are not folded (no Yandex page).
        new() { Name = "Yandex", Domains = ["yandex.com", "yandex.ru", "ya.ru", "yandex.by", "yandex.kz", "yandex.ua"], CanonicalDomain = "yandex.com" },
    ];
}
