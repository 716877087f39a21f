namespace EmailGuard;

/// <summary>
/// Names a setting of an options type that was renamed before 1.0. <see cref="StrictConfiguration"/> then fails the app at
/// startup with "renamed to <c>newName</c>" for a configuration that still uses the old key, instead of "unknown setting".
/// </summary>
/// <remarks>
/// The strict binder matches the attribute by its type name, so a package that cannot see this type may declare its own
/// <c>RenamedSettingAttribute(string oldName, string newName)</c>.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
internal sealed class RenamedSettingAttribute(string oldName, string newName) : Attribute
{
    public string OldName { get; } = oldName;

    public string NewName { get; } = newName;
}
