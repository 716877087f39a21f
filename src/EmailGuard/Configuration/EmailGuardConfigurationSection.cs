namespace EmailGuard;

/// <summary>A section below <c>EmailGuard</c> that a registered component binds, e.g. <c>SendGuard</c>.</summary>
/// <param name="Name">The section's key below <c>EmailGuard</c>.</param>
internal sealed record EmailGuardConfigurationSection(string Name);
