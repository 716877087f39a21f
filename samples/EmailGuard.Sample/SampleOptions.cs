namespace EmailGuard.Sample;

/// <summary>Settings of the sample itself (section <c>Sample</c>).</summary>
public sealed class SampleOptions
{
    /// <summary>The SQLite file with tenants and accounts; relative to the content root.</summary>
    public string DatabasePath { get; set; } = "sample.db";

    /// <summary>
    /// The key that opens the EmailGuard dashboard (<c>/emailguard</c>) and the queue controls. DEVELOPMENT ONLY: it is
    /// set in appsettings.Development.json, and with no key the dashboard is closed. A real app puts its operator screens
    /// behind its own authentication and an authorization policy.
    /// </summary>
    public string? AdminKey { get; set; }
}
