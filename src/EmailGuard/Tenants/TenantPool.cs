namespace EmailGuard;

/// <summary>A configured tenant pool: its rules, counter key and partition (<c>pool:&lt;name&gt;</c>).</summary>
internal sealed record TenantPool(RateLimitRule[] Rules, string Key, string Partition);
