using System.Collections.Concurrent;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// What the endpoints under test bound: the attacker's measure of success is how often the endpoint received the
/// victim's address, whatever the middleware counted.
/// </summary>
public sealed class BoundValues
{
    private readonly ConcurrentQueue<string> _values = new();

    public void Add(string? value) => _values.Enqueue(value ?? "<null>");

    public int Count(string value) => _values.Count(v => v.Contains(value, StringComparison.OrdinalIgnoreCase));

    public IReadOnlyCollection<string> All => _values;
}
