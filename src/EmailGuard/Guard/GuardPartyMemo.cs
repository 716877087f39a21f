namespace EmailGuard;

/// <summary>
/// The key cache entries of the parties of the last check made with a set of <see cref="GuardBuffers"/>: its sender,
/// first recipient, tenant and user. A check whose message gives the very same strings again (a sender address held
/// in the app's configuration, ids read from objects the app caches, a message sent again) finds each party's entry by
/// the identity of the string, without hashing or comparing its characters. Any other string is looked up as before
/// and remembered in its place.
/// </summary>
/// <remarks>
/// A set is used by one check at a time, so its slots are never shared between threads. Each slot holds entries of one
/// cache, of the guard that used the set last (<see cref="For"/>): a set that goes to another guard forgets them. The
/// slots keep up to four entries alive while the set waits for its next check, as <see cref="GuardBuffers.Shape"/>
/// keeps the last check's keys.
/// </remarks>
internal sealed class GuardPartyMemo
{
    private SendGuardKeys? _keys;

    /// <summary>The sender's entry in <see cref="SendGuardKeys.Addresses"/>.</summary>
    public BoundedKeyCache<string, GuardAddress>.Entry? Sender;

    /// <summary>The first recipient's entry in <see cref="SendGuardKeys.Addresses"/>.</summary>
    public BoundedKeyCache<string, GuardAddress>.Entry? Recipient;

    /// <summary>The tenant's entry in <see cref="SendGuardKeys.Tenants"/>.</summary>
    public BoundedKeyCache<string, string>.Entry? Tenant;

    /// <summary>The user's entry in <see cref="SendGuardKeys.Users"/>.</summary>
    public BoundedKeyCache<string, string>.Entry? User;

    /// <summary>The slots for a check of the guard whose caches are <paramref name="keys"/>: emptied when the last check was another guard's.</summary>
    public GuardPartyMemo For(SendGuardKeys keys)
    {
        if (!ReferenceEquals(_keys, keys))
        {
            _keys = keys;
            Sender = null;
            Recipient = null;
            Tenant = null;
            User = null;
        }

        return this;
    }
}
