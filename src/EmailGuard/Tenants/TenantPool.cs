namespace EmailGuard;

/// <summary>A configured tenant pool: its rules, counter key and partition (<c>pool:&lt;name&gt;</c>).</summary>
internal sealed record TenantPool(RateLimitRule[] Rules, string Key, string Partition)
{
    /// <summary>The pool's place among the configured pools (<see cref="TenantPoolRules.At"/>): how a decision keeps it in a few bits.</summary>
    public int Index { get; init; }

    /// <summary>The pool's name in lower case: how its flags and feedback counters name it.</summary>
    public string Name { get; } = Partition[TenantPoolRules.PartitionPrefix.Length..].ToLowerInvariant();
}
