using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace EmailGuard;

/// <summary>
/// A view of a configuration section in which some values, by full path, read differently: the canonical form of a
/// shorthand period (<c>30s</c> reads <c>00:00:30</c>), so that the stock binder, which knows only .NET's forms, binds it;
/// and some settings, with everything below them, are absent: those that failed their check, so that the binder, which
/// would throw on the first value it cannot convert, binds the rest.
/// </summary>
internal sealed class RewrittenConfigurationSection(
    IConfigurationSection inner,
    IReadOnlyDictionary<string, string> values,
    IReadOnlySet<string> hidden,
    bool isHidden = false) : IConfigurationSection
{
    public string Key => inner.Key;

    public string Path => inner.Path;

    public string? Value
    {
        get => isHidden ? null : values.TryGetValue(inner.Path, out string? value) ? value : inner.Value;
        set => inner.Value = value;
    }

    public string? this[string key]
    {
        get => GetSection(key).Value;
        set => inner[key] = value;
    }

    public IConfigurationSection GetSection(string key)
    {
        IConfigurationSection section = inner.GetSection(key);
        return new RewrittenConfigurationSection(section, values, hidden, isHidden || hidden.Contains(section.Path));
    }

    public IEnumerable<IConfigurationSection> GetChildren()
        => isHidden ? [] : inner.GetChildren().Where(c => !hidden.Contains(c.Path)).Select(c => new RewrittenConfigurationSection(c, values, hidden));

    public IChangeToken GetReloadToken() => inner.GetReloadToken();
}
