using System.ComponentModel.DataAnnotations;

namespace EmailGuard;

/// <summary>
/// How EmailGuard protects requests and sends from a slow or dead store.
/// </summary>
public sealed class StoreResilienceOptions
{
    /// <summary>
    /// Gets or sets how long one store call may take before it counts as a failure and the failure mode applies.
    /// </summary>
    /// <value>The default value is 250 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:30")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets how many app instances share the store. With <see cref="StoreFailureMode.LocalFallback"/>, each
    /// instance enforces every limit divided by this number, so that all instances together stay within the limit.
    /// </summary>
    /// <value>The default value is 1.</value>
    [Range(1, 10_000)]
    public int InstanceCount { get; set; } = 1;
}
