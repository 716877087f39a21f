namespace EmailGuard;

/// <summary>
/// Names two keys of an options type that set one value, such as <c>StripPlusTags</c> and
/// <c>AddressNormalization:StripPlusTags</c>. <see cref="StrictConfiguration"/> then fails the app at startup when a
/// configuration writes both with different values, instead of letting the one bound last win without a word.
/// </summary>
/// <remarks>The strict binder matches the attribute by its type name, as it does <see cref="RenamedSettingAttribute"/>.</remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
internal sealed class SameSettingAttribute(string key, string otherKey) : Attribute
{
    /// <summary>Gets the key, relative to the options' section.</summary>
    public string Key { get; } = key;

    /// <summary>Gets the other key of the same value, relative to the options' section.</summary>
    public string OtherKey { get; } = otherKey;
}
