using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace EmailGuard;

/// <summary>
/// A view of a configuration section in which some values, by full path, read differently: the canonical form of a
/// shorthand period (<c>30s</c> reads <c>00:00:30</c>), so that the stock binder, which knows only .NET's forms, binds it.
/// </summary>
internal sealed class RewrittenConfigurationSection(IConfigurationSection inner, IReadOnlyDictionary<string, string> values) : IConfigurationSection
{
    public string Key => inner.Key;

    public string Path => inner.Path;

    public string? Value
    {
        get => values.TryGetValue(inner.Path, out string? value) ? value : inner.Value;
        set => inner.Value = value;
    }

    public string? this[string key]
    {
        get => GetSection(key).Value;
        set => inner[key] = value;
    }

    public IConfigurationSection GetSection(string key) => new RewrittenConfigurationSection(inner.GetSection(key), values);

    public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Select(c => new RewrittenConfigurationSection(c, values));

    public IChangeToken GetReloadToken() => inner.GetReloadToken();
}
