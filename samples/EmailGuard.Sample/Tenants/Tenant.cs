namespace EmailGuard.Sample.Tenants;

/// <summary>A customer of the sample app. Null limits mean "the configured default".</summary>
public sealed record Tenant(string Id, string Name, string Plan, long? HourlyLimit, long? DailyLimit);
