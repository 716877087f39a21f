namespace EmailGuard;

/// <summary>The validated options turned into rule arrays once, so a check only indexes arrays.</summary>
internal sealed class SendGuardRules
{
    public SendGuardRules(SendGuardOptions options)
        : this(options, options)
    {
    }

    /// <param name="options">The options whose caps (the rules of each dimension) these are.</param>
    /// <param name="settings">
    /// The options whose other settings apply (<see cref="SendGuardOptions.NearDuplicate"/>,
    /// <see cref="SendGuardOptions.BulkContent"/>, <see cref="SendGuardOptions.ContentExemptCategories"/>): the ones the
    /// guard started with, after a reload (<see cref="SendGuardReload"/>).
    /// </param>
    public SendGuardRules(SendGuardOptions options, SendGuardOptions settings)
    {
        Global = Compile(options.Global);
        Tenant = Compile(options.Tenant);
        Sender = Compile(options.Sender);
        Recipient = Compile(options.Recipient);
        RecipientDomain = Compile(options.RecipientDomain);
        User = Compile(options.User);
        ClientIp = Compile(options.ClientIp);
        Category = Compile(options.Category);
        Content = Compile(options.Content);
        NearDuplicate = settings.NearDuplicate is { Enabled: true } nearDuplicate && Content.Length != 0 ? new NearDuplicateSketch(nearDuplicate) : null;
        ContentOwnCopies = settings.BulkContent is { Trips: > 0 } && Content.Length != 0 ? Array.ConvertAll(Content, ContentOwnCopiesCounter) : null;
        ContentExemptCategories = new HashSet<string>(settings.ContentExemptCategories ?? [], StringComparer.OrdinalIgnoreCase);
        Categories = new Dictionary<string, RateLimitRule[]>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, SendGuardDimensionOptions> pair in options.Categories)
        {
            Categories[pair.Key] = Compile(pair.Value);
        }
    }

    public RateLimitRule[] Global { get; }

    public RateLimitRule[] Tenant { get; }

    public RateLimitRule[] Sender { get; }

    public RateLimitRule[] Recipient { get; }

    public RateLimitRule[] RecipientDomain { get; }

    public RateLimitRule[] User { get; }

    public RateLimitRule[] ClientIp { get; }

    public RateLimitRule[] Category { get; }

    public RateLimitRule[] Content { get; }

    /// <summary>The near-duplicate sketch whose band keys the content rules also count, or null when it is off.</summary>
    public NearDuplicateSketch? NearDuplicate { get; }

    /// <summary>
    /// Per content rule, the counter of a party's own copies of a text (<see cref="ContentOwnCopiesCounter"/>), or null
    /// when no content denial is ever a trip (<see cref="BulkContentFlagOptions.Trips"/> 0, or no content rule).
    /// </summary>
    public RateLimitRule[]? ContentOwnCopies { get; }

    public HashSet<string> ContentExemptCategories { get; }

    /// <summary>The content rules that apply to <paramref name="message"/>: none without content or for an exempt category.</summary>
    public RateLimitRule[] ForContent(OutboundEmail message)
        => message.Content is null || (message.Category is { } category && ContentExemptCategories.Count != 0 && ContentExemptCategories.Contains(category)) ? [] : Content;

    public Dictionary<string, RateLimitRule[]> Categories { get; }

    public RateLimitRule[] ForCategory(string category)
        => Categories.Count != 0 && Categories.TryGetValue(category, out RateLimitRule[]? rules) ? rules : Category;

    /// <summary>
    /// Rules of one shape share a counter, so two of them in one acquire would count a message twice; keep the stricter.
    /// </summary>
    public static RateLimitRule[] Normalize(IEnumerable<RateLimitRule> rules)
    {
        List<RateLimitRule> result = [];
        foreach (RateLimitRule rule in rules)
        {
            ArgumentNullException.ThrowIfNull(rule);
            int same = result.FindIndex(r => r.HasSameShape(rule));
            if (same < 0)
            {
                result.Add(rule);
            }
            else if (rule.Limit < result[same].Limit)
            {
                result[same] = rule;
            }
        }

        return [.. result];
    }

    /// <summary>The rules with every limit scaled by <paramref name="factor"/>; same shapes, so same counters.</summary>
    public static RateLimitRule[] Reduce(RateLimitRule[] rules, double factor)
    {
        if (factor >= 1 || rules.Length == 0)
        {
            return rules;
        }

        RateLimitRule[] reduced = new RateLimitRule[rules.Length];
        for (int i = 0; i < rules.Length; i++)
        {
            reduced[i] = rules[i].WithLimit(Math.Max(1, (long)Math.Floor(rules[i].Limit * factor)));
        }

        return reduced;
    }

    /// <summary>
    /// The counter of a party's own copies under <paramref name="rule"/>: the same window and segments, a limit no caller
    /// reaches (<see cref="RateLimitRule.MaxLimit"/>), so it never denies and a reservation counts it at the decision's
    /// time. A token bucket's counter is a bucket of its own refilled at the rule's rate: whether a party alone would have
    /// had room depends on when its copies came, not on how many came in some window. A count of the copies in the time
    /// an empty bucket refills called a victim sending 6 copies an hour, one every 10 minutes, under a bucket of 5 refilled
    /// at 10 an hour, over its burst (6 + 1 > 5), so a rogue that emptied the text's bucket got it flagged, though alone
    /// its bucket held one token. The party's bucket holds twice the burst: it takes only what the text's bucket admitted
    /// with it, so it never holds more than the burst and never denies. Either is a tally (<see cref="RateLimitRule.IsTally"/>):
    /// a full in-memory store would count a new key in its overflow sketch, which over-counts, so a rogue's flood of keys
    /// could have filled a party's own bucket (a denial of an innocent) or its own count (a false trip); the store leaves
    /// a tally it cannot count exactly uncounted instead, at worst a trip missed. Same shapes and limits as before, so the
    /// same Redis keys, read and written the same way by every version.
    /// </summary>
    public static RateLimitRule ContentOwnCopiesCounter(RateLimitRule rule)
        => (rule.Algorithm != RateLimitAlgorithm.TokenBucket
            ? rule.WithLimit(RateLimitRule.MaxLimit)
            : rule.WithBurstAtSameRate(2 * rule.Limit)).AsTally();

    public static RateLimitRule[] Compile(SendGuardDimensionOptions? options)
        => options is null ? [] : Normalize(options.Rules.Select(r => r.ToRule()));
}
