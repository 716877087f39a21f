namespace EmailGuard.AspNetCore;

/// <summary>
/// An endpoint policy described by settings, bound from <c>EmailGuard:Endpoints:Policies:&lt;name&gt;</c>: what
/// <see cref="EmailRateLimitPolicyBuilder"/> does without a delegate. <c>RequireEmailRateLimit("name")</c> and
/// <see cref="EmailRateLimitAttribute"/> name it as they name a policy added in code.
/// </summary>
public sealed class EmailGuardPolicyOptions
{
    /// <summary>
    /// Gets the partitions a request is counted in, each with its rules; at least one is required. Every partition's
    /// rules are acquired in one atomic store call, as a code policy's are.
    /// </summary>
    public IList<EmailGuardPolicyPartitionOptions> Partitions { get; } = new List<EmailGuardPolicyPartitionOptions>();

    /// <summary>Gets or sets what happens when the store cannot be reached in time, as <see cref="EmailRateLimitPolicyBuilder.WithFailureMode"/>.</summary>
    /// <value>The default value is <see cref="StoreFailureMode.FailOpen"/>.</value>
    public StoreFailureMode FailureMode { get; set; } = StoreFailureMode.FailOpen;

    /// <summary>Gets or sets whether requests are counted and would-be rejections recorded but never blocked, as <see cref="EmailRateLimitPolicyBuilder.InShadowMode"/>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool ShadowMode { get; set; }

    /// <summary>
    /// Gets or sets whether allowed responses carry the <c>RateLimit</c> headers, as
    /// <see cref="EmailRateLimitPolicyBuilder.WithQuotaHeaders"/>; null follows
    /// <see cref="EmailGuardEndpointOptions.QuotaHeadersOnAllowedResponses"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public bool? QuotaHeaders { get; set; }

    /// <summary>Gets or sets what happens when a request lacks a field a partition counts by, as <see cref="EmailRateLimitPolicyBuilder.WhenFieldMissing"/>.</summary>
    /// <value>The default value is <see cref="MissingFieldBehavior.Reject"/>.</value>
    public MissingFieldBehavior WhenFieldMissing { get; set; } = MissingFieldBehavior.Reject;

    /// <summary>
    /// Gets or sets what happens when a request carries a field a partition counts by more than once, as
    /// <see cref="EmailRateLimitPolicyBuilder.WhenFieldRepeated"/>.
    /// </summary>
    /// <value>The default value is <see cref="RepeatedFieldBehavior.Reject"/>.</value>
    public RepeatedFieldBehavior WhenFieldRepeated { get; set; } = RepeatedFieldBehavior.Reject;

    /// <summary>
    /// Gets or sets what happens when a request carries no value for a <see cref="PolicyPartitionKind.User"/>,
    /// <see cref="PolicyPartitionKind.TenantClaim"/>, <see cref="PolicyPartitionKind.TenantHeader"/> or
    /// <see cref="PolicyPartitionKind.RouteValue"/> partition, as <see cref="EmailRateLimitPolicyBuilder.WhenValueMissing"/>.
    /// A value other than <see cref="MissingValueBehavior.Skip"/> on a policy without such a partition stops the app.
    /// </summary>
    /// <value>The default value is <see cref="MissingValueBehavior.Skip"/>.</value>
    public MissingValueBehavior WhenValueMissing { get; set; } = MissingValueBehavior.Skip;
}
