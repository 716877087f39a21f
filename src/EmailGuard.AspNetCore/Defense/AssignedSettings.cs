using Microsoft.Extensions.Configuration;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The settings of a defense's options that configuration holds keys for. The binder assigns every property of an
/// object it creates, so what configuration set can only be read from its keys. A defense in configuration then
/// overrides the one in code setting by setting: a setting configuration leaves out keeps the code's value instead of
/// falling back to its default, so tuning one setting never silently undoes another.
/// </summary>
internal sealed class AssignedSettings
{
    private HashSet<string>? _names;

    /// <summary>Whether the options were bound from configuration (and so override code setting by setting).</summary>
    public bool FromConfiguration => _names is not null;

    /// <summary>Records the keys <paramref name="section"/> holds as the settings configuration set.</summary>
    /// <param name="section">The options' configuration section.</param>
    public void MarkFrom(IConfigurationSection section)
    {
        _names ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            _names.Add(child.Key);
        }
    }

    /// <summary>The value configuration set when it holds <paramref name="setting"/>, else <paramref name="otherwise"/>.</summary>
    /// <typeparam name="T">The setting's type.</typeparam>
    /// <param name="setting">The property's name.</param>
    /// <param name="configured">The bound value of it.</param>
    /// <param name="otherwise">The value to keep when configuration does not set it.</param>
    /// <returns>The value that applies.</returns>
    public T Pick<T>(string setting, T configured, T otherwise) => _names is not null && _names.Contains(setting) ? configured : otherwise;
}
