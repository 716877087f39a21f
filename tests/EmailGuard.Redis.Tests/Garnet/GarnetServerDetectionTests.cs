using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Garnet;

/// <summary>
/// What the store's server check says about the server it finds: Redis 7, Garnet with and without the flags
/// EmailGuard needs, and a Redis older than 7. Each misconfigured Garnet is started for its test.
/// </summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetServerDetectionTests(GarnetServerFixture garnet, ITestOutputHelper output)
{
    [Fact]
    public async Task CheckAsync_GarnetWithTheRequiredFlags_FindsGarnet_AndWarnsUntilTransactionModeIsDeclared()
    {
        var undeclared = await CheckAsync(garnet, declared: false);
        var declared = await CheckAsync(garnet, declared: true);

        undeclared.Servers.Should().ContainSingle().Which.Name.Should().Be("garnet");
        undeclared.Servers[0].Version.Should().Be(GarnetBinaries.Version);
        undeclared.Fatal.Should().BeEmpty();
        undeclared.Warnings.Should().ContainSingle().Which.Should().Contain("--lua-transaction-mode").And.Contain("GarnetLuaTransactionMode");
        declared.Fatal.Should().BeEmpty();
        declared.Warnings.Should().BeEmpty("the operator declared the flag Garnet cannot report");
    }

    [Fact]
    public async Task CheckAsync_GarnetWithoutLua_IsRefusedNamingTheFlags()
    {
        GarnetServerFixture noLua = GarnetServerFixture.WithArguments();
        await noLua.InitializeAsync();
        try
        {
            var result = await CheckAsync(noLua, declared: true);

            result.Fatal.Should().ContainSingle().Which.Should().Contain("Lua scripting disabled").And.Contain("--lua --lua-transaction-mode");
        }
        finally
        {
            await noLua.DisposeAsync();
        }
    }

    [Fact]
    public async Task CheckAsync_GarnetWithLuaButNotTransactionMode_WarnsNamingTheFlag()
    {
        // Garnet 2.2.8 reports --lua-transaction-mode nowhere (not in CONFIG GET, not in INFO), so this Garnet is told
        // apart from a correct one only by the operator's declaration: undeclared, both get the same warning.
        GarnetServerFixture luaOnly = GarnetServerFixture.WithArguments("--lua");
        await luaOnly.InitializeAsync();
        try
        {
            var result = await CheckAsync(luaOnly, declared: false);

            result.Fatal.Should().BeEmpty();
            result.Warnings.Should().ContainSingle().Which.Should().Contain("--lua --lua-transaction-mode");
        }
        finally
        {
            await luaOnly.DisposeAsync();
        }
    }

    [Fact]
    public void Evaluate_RedisOlderThan7_IsRefusedNamingTheVersion()
    {
        RedisServerInfo redis6 = RedisServerInfo.Parse("127.0.0.1:6379", "# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n");
        List<string> fatal = [];
        List<string> warnings = [];

        RedisServerCompatibilityCheck.Evaluate(redis6, fatal, warnings, garnetTransactionModeDeclared: false);

        redis6.Name.Should().Be("redis");
        fatal.Should().ContainSingle().Which.Should().Contain("6.2.14").And.Contain("Redis 7 or later");
        warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_GarnetAndValkeyInfo_ReadTheirOwnVersions()
    {
        RedisServerInfo garnetInfo = RedisServerInfo.Parse("g", "# Server\r\ngarnet_version:2.2.8\r\nserver_name:garnet\r\nredis_version:7.4.3\r\n");
        RedisServerInfo valkey = RedisServerInfo.Parse("v", "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n");

        (garnetInfo.Name, garnetInfo.Version, garnetInfo.RedisVersion, garnetInfo.IsGarnet).Should().Be(("garnet", "2.2.8", "7.4.3", true));
        (valkey.Name, valkey.Version, valkey.RedisMajorVersion, valkey.IsGarnet).Should().Be(("valkey", "8.1.1", 7, false));
    }

    [Fact]
    public async Task BothChecks_AtStartup_AskEachPrimaryOnce()
    {
        // The compatibility and eviction checks start together; they share one INFO read per primary, and a read
        // moments later is shared too, while a read after the sharing period goes to the server again.
        FakeTimeProvider clock = new();
        using RedisConnection connection = new(garnet.CreateMultiplexer(), "detect:");
        RedisPrimaryInfoReader reader = new(connection, clock);
        RedisServerCompatibilityCheck compatibility = new(connection, new RedisRateLimitStoreOptions { GarnetLuaTransactionMode = true }, clock, reader: reader);
        RedisEvictionPolicyCheck eviction = new(connection, clock, reader: reader);

        var both = await Task.WhenAll(compatibility.CheckAsync(), eviction.CheckAsync().ContinueWith(_ => compatibility.CheckAsync(), TaskScheduler.Default).Unwrap());
        int afterStartup = reader.ReadsStarted;
        clock.Advance(TimeSpan.FromMinutes(1));
        await eviction.CheckAsync();

        both.Should().AllSatisfy(r => r!.Value.Servers.Should().ContainSingle().Which.IsGarnet.Should().BeTrue());
        afterStartup.Should().Be(1);
        reader.ReadsStarted.Should().Be(2, "a minute later the servers are asked again");
    }

    private async Task<(List<RedisServerInfo> Servers, List<string> Fatal, List<string> Warnings)> CheckAsync(RedisServerFixture server, bool declared)
    {
        RedisRateLimitStoreOptions options = new() { GarnetLuaTransactionMode = declared };
        using RedisConnection connection = new(server.CreateMultiplexer(), "detect:");
        RedisServerCompatibilityCheck check = new(connection, options, new FakeTimeProvider());
        var result = (await check.CheckAsync()) ?? throw new InvalidOperationException("No server answered.");
        foreach (string line in result.Fatal.Concat(result.Warnings))
        {
            output.WriteLine(line);
        }

        return result;
    }
}
