using System.Text.Json.Serialization;

namespace EmailGuard.Redis;

/// <summary>Source-generated JSON for what the Redis state store keeps, so no reflection runs per entry.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EmailGuardListEntry))]
[JsonSerializable(typeof(EmailGuardFlag))]
[JsonSerializable(typeof(EmailGuardFlagEvent))]
internal sealed partial class GuardStateJsonContext : JsonSerializerContext;
