using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The tenant pools (<see cref="SendGuardOptions.TenantPools"/>): which pool a tenant's mail also counts against, from
/// the provider's answer (<see cref="TenantLimits.Pool"/>) or <see cref="SendGuardOptions.DefaultTenantPool"/>, and the
/// pool's rules, counter key and partition, built once per configured pool so a check builds no strings.
/// </summary>
/// <remarks>
/// A pool counts under the tenant dimension as the partition <c>pool:&lt;name&gt;</c> with the key <c>send:tp:&lt;name&gt;</c>
/// (the name in lower case, as category keys are), so its denials, Retry-After, metrics and status read like any
/// tenant's. A pool the provider names that has no rules caps nothing: logged once per name, for at most
/// <see cref="MaxWarnedPools"/> names, so a provider that returns made-up names cannot grow memory.
/// </remarks>
internal sealed partial class TenantPoolRules
{
    /// <summary>The longest pool name accepted in <see cref="SendGuardOptions.TenantPools"/>.</summary>
    public const int MaxNameLength = 256;

    /// <summary>The partition a pool's requests carry, before its name.</summary>
    public const string PartitionPrefix = "pool:";

    /// <summary>The most unknown pool names remembered as already logged.</summary>
    internal const int MaxWarnedPools = 1_000;

    private readonly Dictionary<string, TenantPool> _pools;
    private readonly List<TenantPool> _byIndex = [];
    private readonly TenantPool? _defaultPool;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte> _warned = new(StringComparer.OrdinalIgnoreCase);

    public TenantPoolRules(SendGuardOptions options, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _pools = new Dictionary<string, TenantPool>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, SendGuardDimensionOptions> pair in options.TenantPools)
        {
            RateLimitRule[] rules = SendGuardRules.Compile(pair.Value);
            if (rules.Length != 0)
            {
                TenantPool pool = new(rules, PartitionKeys.ForId(PartitionKeys.TenantPoolPrefix, pair.Key.ToLowerInvariant()), PartitionPrefix + pair.Key) { Index = _byIndex.Count };
                _pools[pair.Key] = pool;
                _byIndex.Add(pool);
            }
        }

        _defaultPool = options.DefaultTenantPool is { } name && _pools.TryGetValue(name, out TenantPool? named) ? named : null;
    }

    /// <summary>Whether any pool has rules: without one, a check never looks a tenant's pool up.</summary>
    public bool Any => _pools.Count != 0;

    /// <summary>The pool of the tenant whose provider answer this is, with its rules, or null when it is in none (or in one without rules).</summary>
    public TenantPool? For(TenantLimitAnswer answer) => answer.HasLimits ? Named(answer.Pool) : _defaultPool;

    /// <summary>The pools with rules, in the order of their <see cref="TenantPool.Index"/>.</summary>
    public IReadOnlyList<TenantPool> All => _byIndex;

    /// <summary>The pool of a tenant the provider puts in none (<see cref="SendGuardOptions.DefaultTenantPool"/>), or null.</summary>
    public TenantPool? Default => _defaultPool;

    /// <summary>The configured pool at <paramref name="index"/> (<see cref="TenantPool.Index"/>).</summary>
    public TenantPool At(int index) => _byIndex[index];

    /// <summary>
    /// The names of the pools the send guard holds tenants by, as <see cref="TenantPool.Name"/> names them (in lower
    /// case): those with rules, as this class builds them; for the ratio breakers, which judge only these.
    /// </summary>
    public static IReadOnlySet<string> Names(SendGuardOptions options)
        => new TenantPoolRules(options)._byIndex.Select(static pool => pool.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The configured pool an operator names (<see cref="EmailGuardStatusQuery.TenantPool"/>), trimmed and in any case,
    /// or null when none of that name has rules; not logged, as no tenant is in it by this.
    /// </summary>
    public TenantPool? Configured(string name)
        => name.Trim() is { Length: > 0 and <= MaxNameLength } trimmed && _pools.TryGetValue(trimmed, out TenantPool? pool) ? pool : null;

    private TenantPool? Named(string? name)
    {
        if (name is null)
        {
            return null;
        }

        if (_pools.TryGetValue(name, out TenantPool? pool))
        {
            return pool;
        }

        Unknown(name);
        return null;
    }

    private void Unknown(string name)
    {
        if (_warned.Count < MaxWarnedPools && _warned.TryAdd(name, 0))
        {
            LogPoolWithoutRules(_logger, LogValue.Of(name));
        }
    }

    [LoggerMessage(EventId = 3073, EventName = "TenantPoolWithoutRules", Level = LogLevel.Warning,
        Message = "The tenant limit provider put a tenant in the pool {Pool}, which has no rules in EmailGuard:SendGuard:TenantPools; its tenants share no pooled cap. Add the pool's rules, or fix the name.")]
    private static partial void LogPoolWithoutRules(ILogger logger, string pool);
}
