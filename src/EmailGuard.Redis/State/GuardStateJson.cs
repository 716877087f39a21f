using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EmailGuard.Redis;

/// <summary>
/// The JSON contracts of what the Redis state store keeps. The timestamp pairs were renamed to <c>CreatedAt</c>/<c>CreatedBy</c>
/// before 1.0; Redis keeps the names written before (<c>AddedAt</c>/<c>AddedBy</c>, <c>FlaggedAt</c>/<c>FlaggedBy</c>,
/// <c>At</c>/<c>By</c>), so a blocklist written by an earlier version still loads, and instances of both versions read each
/// other's writes during a rolling upgrade.
/// </summary>
internal static class GuardStateJson
{
    private static readonly JsonSerializerOptions s_options = new(GuardStateJsonContext.Default.Options)
    {
        TypeInfoResolver = GuardStateJsonContext.Default.WithAddedModifier(KeepStoredNames),
    };

    public static JsonTypeInfo<EmailGuardListEntry> ListEntry { get; } = (JsonTypeInfo<EmailGuardListEntry>)s_options.GetTypeInfo(typeof(EmailGuardListEntry));

    public static JsonTypeInfo<EmailGuardFlag> Flag { get; } = (JsonTypeInfo<EmailGuardFlag>)s_options.GetTypeInfo(typeof(EmailGuardFlag));

    public static JsonTypeInfo<EmailGuardFlagEvent> FlagEvent { get; } = (JsonTypeInfo<EmailGuardFlagEvent>)s_options.GetTypeInfo(typeof(EmailGuardFlagEvent));

    private static void KeepStoredNames(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Type == typeof(EmailGuardListEntry))
        {
            // The reason and the writer repeat across suppressions: each is read as one shared string.
            foreach (JsonPropertyInfo property in typeInfo.Properties)
            {
                if (property.Name is nameof(EmailGuardListEntry.Reason) or nameof(EmailGuardListEntry.CreatedBy))
                {
                    property.CustomConverter = PooledStringConverter.Instance;
                }
            }
        }

        (string At, string By)? stored =
            typeInfo.Type == typeof(EmailGuardListEntry) ? ("AddedAt", "AddedBy")
            : typeInfo.Type == typeof(EmailGuardFlag) ? ("FlaggedAt", "FlaggedBy")
            : typeInfo.Type == typeof(EmailGuardFlagEvent) ? ("At", "By")
            : null;
        if (stored is not { } names)
        {
            return;
        }

        foreach (JsonPropertyInfo property in typeInfo.Properties)
        {
            property.Name = property.Name switch
            {
                nameof(EmailGuardListEntry.CreatedAt) => names.At,
                nameof(EmailGuardListEntry.CreatedBy) => names.By,
                _ => property.Name,
            };
        }
    }
}
