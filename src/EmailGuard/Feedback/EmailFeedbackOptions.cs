using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard;

/// <summary>
/// How provider feedback is recorded: deduplication, attribution, suppression and the per-party counts. Bound from the
/// <c>EmailGuard:Feedback</c> configuration section and validated at startup.
/// </summary>
public sealed class EmailFeedbackOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string ConfigurationSectionName = EmailGuardServiceCollectionExtensions.ConfigurationSectionName + ":" + SectionKey;

    /// <summary>The section's key below <c>EmailGuard</c>.</summary>
    internal const string SectionKey = "Feedback";

    /// <summary>
    /// Gets or sets how long a provider message id stays mapped to its attribution (<see cref="IEmailGuardFeedback.TrackAsync"/>).
    /// Providers report bounces within minutes and complaints within days; the mapping expires after this.
    /// </summary>
    /// <value>The default value is 14 days.</value>
    public TimeSpan AttributionLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// Gets or sets how long an event id is remembered, so that a provider's retry of the same event changes nothing.
    /// A whole number of seconds. SNS retries for up to about a day, Mailgun and SendGrid for a few days.
    /// </summary>
    /// <value>The default value is 3 days.</value>
    public TimeSpan DeduplicationWindow { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Gets or sets how long a hard bounce keeps the recipient on the blocklist; <see langword="null"/> for ever.</summary>
    /// <value>The default value is <see langword="null"/> (permanent).</value>
    public TimeSpan? HardBounceSuppression { get; set; }

    /// <summary>Gets or sets how long a complaint keeps the recipient on the blocklist; <see langword="null"/> for ever.</summary>
    /// <value>The default value is <see langword="null"/> (permanent).</value>
    public TimeSpan? ComplaintSuppression { get; set; }

    /// <summary>
    /// Gets or sets how many transient (or undetermined) bounces of one recipient within <see cref="TransientBouncePeriod"/>
    /// put it on the blocklist, with reason <see cref="EmailFeedbackSuppressionReasons.TransientBounces"/>. 0 turns this off.
    /// A bounce that refuses the message, not the address (<see cref="EmailFeedbackEvent.RejectedForMessage"/>), is not counted.
    /// </summary>
    /// <value>The default value is 3.</value>
    [Range(0, 1000)]
    public int TransientBounceThreshold { get; set; } = 3;

    /// <summary>Gets or sets the rolling period <see cref="TransientBounceThreshold"/> counts over; a whole number of seconds.</summary>
    /// <value>The default value is 7 days.</value>
    public TimeSpan TransientBouncePeriod { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Gets or sets how long repeated transient bounces keep the recipient on the blocklist; <see langword="null"/> for ever.</summary>
    /// <value>The default value is 30 days.</value>
    public TimeSpan? TransientBounceSuppression { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Gets or sets how long an unsubscribe suppresses the recipient for its category; <see langword="null"/> for ever.</summary>
    /// <value>The default value is <see langword="null"/> (permanent).</value>
    public TimeSpan? UnsubscribeSuppression { get; set; }

    /// <summary>
    /// Gets or sets the rolling window of the per-party counts (<see cref="IEmailFeedbackCounts"/>); a whole number of
    /// seconds. The ratio breakers read these counts.
    /// </summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan CountWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets or sets the volume horizon of the ratios: the party's last this many sends, the way providers measure ("the
    /// last 10,192 eligible emails"), judged next to <see cref="CountWindow"/>: a breaker trips when either horizon's
    /// ratio crosses its line. A party cannot then bank good mail early in the window and spend it on a burst of bounces,
    /// nor wait out the time window to forget bounces it sent too few mails to be judged on. 0 counts the time window only.
    /// </summary>
    /// <value>The default value is 0 (off); the recommended configurations in <c>docs/deliverability.md</c> set 1,000.</value>
    [Range(0, 10_000_000)]
    public long CountLastSends { get; set; }

    /// <summary>
    /// Gets or sets how old the sends of the volume horizon (<see cref="CountLastSends"/>) may be: they are counted in
    /// periods of this length aligned to the Unix epoch, and the horizon reaches back into the previous period only, so it
    /// forgets sends older than one to two periods whatever the volume. A whole number of seconds from 1 hour to 120 days.
    /// </summary>
    /// <value>The default value is 30 days.</value>
    public TimeSpan CountLastSendsWithin { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Gets or sets how many message-id mappings (and fan-out recipients) the in-memory key-value store keeps at most;
    /// expired ones go first, then the oldest. The breakers' memory, Mailgun's replay tokens and the other keys have
    /// pools of their own, each a tenth of this (at least 1,000, at most this), so a flood of mail cannot push them out;
    /// a full pool of replay tokens refuses new ones rather than forget a live one. The Redis store is bounded by the
    /// values' time to live instead.
    /// </summary>
    /// <value>The default value is 100,000.</value>
    [Range(1, 10_000_000)]
    public int MaxInMemoryMappings { get; set; } = 100_000;

    /// <summary>
    /// Gets the keys that sign EmailGuard's attribution tags (<see cref="EmailFeedbackTags.SignatureTag"/>), each base64
    /// of 32 to 64 random bytes (<c>openssl rand -base64 32</c>), at most 8. The first signs the tags of every admitted
    /// message; feedback whose tags name a party (<see cref="EmailFeedbackEvent.Tags"/>) is charged to it only when one
    /// of the keys signed them, so a customer who gets tags of its own onto the app's mail cannot name another tenant.
    /// Tags that are unsigned or do not verify count as no attribution: the message-id mapping, when there is one, still
    /// names the parties, and the event still suppresses its address. To rotate, put the new key first and keep the old
    /// one after it until the mail it signed has had its feedback (<see cref="AttributionLifetime"/>). Keep them secret,
    /// like any credential: outside source control, the same on every instance.
    /// </summary>
    /// <value>The default value is empty: tags are neither signed nor checked.</value>
    public IList<string> TagSigningKeys { get; } = [];

    /// <summary>Gets the callbacks raised when feedback is recorded.</summary>
    public EmailFeedbackEvents Events { get; } = new();
}
