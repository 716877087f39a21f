namespace EmailGuard;

/// <summary>
/// The near-duplicate fingerprint of the content dimension, bound from <c>EmailGuard:SendGuard:NearDuplicate</c>: a
/// MinHash sketch over the word shingles of the normalized text, banded into <see cref="Bands"/> keys, each counted
/// against the same <see cref="SendGuardOptions.Content"/> rules as the exact fingerprint. Off by default.
/// </summary>
/// <remarks>
/// <para>Two texts share a band key when every one of the band's <see cref="RowsPerBand"/> MinHash values agrees; the
/// chance of that is the texts' shingle resemblance (Jaccard similarity) to the power <see cref="RowsPerBand"/>, and
/// with <see cref="Bands"/> bands the chance that any band agrees is <c>1 - (1 - J^rows)^bands</c>. With the defaults (4
/// bands of 5 rows) that is 97 % for texts sharing nine tenths of their word pairs, 66 % at three quarters, 12 % at
/// half and 1 % at three tenths.</para>
/// <para>Only hashes are stored. A closing phrase (<c>Kind regards</c>, a confidentiality notice, <c>Sent from my</c>,
/// an unsubscribe line) near the end of the text ends the part that is shingled, so genuinely different mails that share
/// a long signature or legal footer are not near-duplicates; texts shorter than <see cref="MinWords"/> words get no band
/// key (their exact fingerprint still counts).</para>
/// <para>Cost, only when enabled: per message with content, one hash per word and <see cref="Bands"/> x
/// <see cref="RowsPerBand"/> per word pair (of the first 2,048), and <see cref="Bands"/> more counters per content
/// rule in the same atomic acquire.</para>
/// </remarks>
public sealed class NearDuplicateContentOptions
{
    /// <summary>Gets or sets a value indicating whether near-duplicate band keys are counted.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets how many band keys a message has; each is one more counter per content rule.</summary>
    /// <value>The default value is 4.</value>
    public int Bands { get; set; } = 4;

    /// <summary>Gets or sets how many MinHash values make one band: more rows demand more resemblance.</summary>
    /// <value>The default value is 5.</value>
    public int RowsPerBand { get; set; } = 5;

    /// <summary>Gets or sets the fewest words (of the part that is shingled) a text needs to get band keys.</summary>
    /// <value>The default value is 20.</value>
    public int MinWords { get; set; } = 20;

    /// <summary>
    /// Gets or sets phrases that open the app's or its tenants' own signatures and footers (e.g. <c>Northwind Traders
    /// GmbH, Hauptstrasse 5</c>), besides the built-in closing phrases (<c>Kind regards</c>, <c>This email and any
    /// attachments</c>, <c>Sent from my</c>, ...). Text from such a phrase on, within the last 200 words, is not
    /// shingled. Compared after normalization, so case, punctuation and numbers do not matter.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    /// <remarks>
    /// A footer that no phrase recognizes is shingled with the message: short mails under one long footer then look
    /// alike (see docs/content.md for the measured effect).
    /// </remarks>
    public IList<string> FooterMarkers { get; set; } = new List<string>();
}
