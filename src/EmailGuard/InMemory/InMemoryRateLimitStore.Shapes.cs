using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>Rule shapes: the counters and overflow sketch of every rule with the same id, found by the rule.</summary>
internal sealed partial class InMemoryRateLimitStore
{
    private const int MaxShapeAliases = 32;

    /// <summary>The counters of a rule's shape.</summary>
    private ConcurrentDictionary<string, InMemoryCounter> CountersOf(RateLimitRule rule) => ShapeOf(rule).Counters;

    /// <summary>
    /// The shape of a rule. Rules are long-lived objects, so the shape is first looked up by the identity of the rule's
    /// <see cref="RateLimitRule.ShapeId"/> string among a few remembered ones, which is cheaper than hashing it.
    /// </summary>
    private InMemoryShape ShapeOf(RateLimitRule rule)
    {
        string id = rule.ShapeId;
        foreach (ShapeAlias alias in _aliases)
        {
            if (ReferenceEquals(alias.Id, id))
            {
                return alias.Shape;
            }
        }

        return ShapeOfSlow(id);
    }

    private InMemoryShape ShapeOfSlow(string id)
    {
        InMemoryShape shape = _shapes.GetOrAdd(id, static _ => new InMemoryShape());
        if (_aliases.Length >= MaxShapeAliases)
        {
            return shape;
        }

        lock (_aliasLock)
        {
            // Bounded, so an app that builds a fresh rule per call only misses the shortcut, never grows this list.
            ShapeAlias[] aliases = _aliases;
            if (aliases.Length < MaxShapeAliases && !Array.Exists(aliases, alias => ReferenceEquals(alias.Id, id)))
            {
                _aliases = [.. aliases, new ShapeAlias(id, shape)];
            }
        }

        return shape;
    }

    private readonly record struct ShapeAlias(string Id, InMemoryShape Shape);
}
