namespace EmailGuard;

/// <summary>
/// The caps the send guard applies, for an admin screen: those it started with, or those of the last change of
/// <c>EmailGuard:SendGuard</c> it took. After a refused change they are still the earlier ones, which
/// <see cref="Microsoft.Extensions.Options.IOptions{TOptions}"/> (the start's) and the configuration (the refused
/// change) would not say. Registered by <c>AddSendGuard()</c>.
/// </summary>
public interface IEmailSendGuardCaps
{
    /// <summary>
    /// Gets options that hold the caps in force: the rules of every dimension, <see cref="SendGuardOptions.Categories"/>,
    /// <see cref="SendGuardOptions.TenantPools"/> and <see cref="SendGuardOptions.DefaultTenantPool"/>. Read only those:
    /// the other settings are not what the guard applies. Treat it as read-only: it is the object the guard keeps (before
    /// the first reload, the app's own options), and a later reload keeps some caps from it (<c>Global</c> under a
    /// fair-share policy, <see cref="SendGuardOptions.TenantPools"/>), so changing it could change what that reload puts
    /// in force.
    /// </summary>
    SendGuardOptions Current { get; }
}
