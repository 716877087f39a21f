namespace EmailGuard.Testing.Redis;

/// <summary>
/// A Garnet for tests, started once per test collection from the repository's local dotnet tool with the flags
/// EmailGuard requires (<c>--lua --lua-transaction-mode</c>), on a free loopback port; or <c>EMAILGUARD_GARNET</c>
/// if set. A missing Garnet fails the tests, under <c>CI=true</c> and elsewhere, with a message that says how to
/// install it. The suites that run on Garnet are the Redis suites, constructed with this fixture instead.
/// </summary>
public sealed class GarnetServerFixture : RedisServerFixture
{
    /// <summary>The name of the xunit collection Garnet tests share.</summary>
    public new const string CollectionName = "garnet";

    /// <summary>The flags EmailGuard requires of Garnet: Lua scripts, run as transactions.</summary>
    public static readonly IReadOnlyList<string> RequiredArguments = ["--lua", "--lua-transaction-mode"];

    /// <summary>Creates the fixture of a Garnet with the required flags, and command statistics for tests that count calls.</summary>
    public GarnetServerFixture()
        : base([.. RequiredArguments, "--commandstats-monitor"])
    {
    }

    private GarnetServerFixture(string[] arguments)
        : base(arguments)
    {
    }

    /// <summary>
    /// Creates a fixture of a Garnet with other flags (for tests of what EmailGuard says about a misconfigured one);
    /// the caller initializes and disposes it.
    /// </summary>
    /// <param name="arguments">Garnet's flags.</param>
    /// <returns>The fixture, not yet started.</returns>
    public static GarnetServerFixture WithArguments(params string[] arguments) => new(arguments);
}
