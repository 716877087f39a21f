namespace EmailGuard.Testing;

/// <summary>The rules of a full guard check: one on each of the six parties a message to one recipient names.</summary>
public static class SixPartyRules
{
    /// <summary>
    /// Adds <paramref name="global"/> on the global party and <paramref name="window"/> on the tenant, sender, user,
    /// recipient and recipient domain: a check of a message to one recipient is then six counters.
    /// </summary>
    /// <param name="options">The send guard's options.</param>
    /// <param name="global">The global rule.</param>
    /// <param name="window">The rule of the five other parties.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static SendGuardOptions AddSixPartyRules(this SendGuardOptions options, RateLimitRule global, RateLimitRule window)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Global.Add(global);
        options.Tenant.Add(window);
        options.Sender.Add(window);
        options.User.Add(window);
        options.Recipient.Add(window);
        options.RecipientDomain.Add(window);
        return options;
    }
}
