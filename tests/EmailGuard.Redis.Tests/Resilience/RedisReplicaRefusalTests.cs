using System.Globalization;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// List, flag and key-value writes refused by a server that became a replica without the client noticing (<c>READONLY</c>)
/// make the connection look for the primary again, as refused scripts do: otherwise suppressions, flags and feedback
/// mappings would fail until StackExchange.Redis's periodic check, a minute later.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisReplicaRefusalTests : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);
    private RedisServerProcess? _first;
    private RedisServerProcess? _second;
    private ConnectionMultiplexer? _multiplexer;

    public async Task InitializeAsync()
    {
        string binary = RedisBinaries.Find("redis-server") ?? throw new InvalidOperationException("These tests start their own redis-server: install it on PATH.");
        _first = await RedisServerProcess.StartAsync(binary, [], s_bound);
        _second = await RedisServerProcess.StartAsync(binary, [], s_bound);
    }

    public async Task DisposeAsync()
    {
        if (_multiplexer is not null)
        {
            await _multiplexer.DisposeAsync();
        }

        _first?.Dispose();
        _second?.Dispose();
    }

    [Theory]
    [InlineData("list write")]
    [InlineData("list remove")]
    [InlineData("flag write")]
    [InlineData("key-value write")]
    public async Task AWriteRefusedAsReadOnly_MakesTheConnectionLookForThePrimary_AndStillFails(string write)
    {
        ConfigurationOptions configuration = ConfigurationOptions.Parse(_first!.Endpoint);
        configuration.AllowAdmin = true;
        _multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
        using RedisConnection connection = new(_multiplexer, RedisServerFixture.UniquePrefix());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        RedisEmailGuardStateStore state = new(connection, time);
        RedisKeyValueStore values = new(connection, time);
        Func<Task> act = write switch
        {
            "list write" => async () => await state.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None),
            "list remove" => async () => await state.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", CancellationToken.None),
            "flag write" => async () => await state.UpsertFlagAsync(
                new EmailGuardFlag { PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "bounces", CreatedAt = time.GetUtcNow(), ExpiresAt = time.GetUtcNow().AddHours(1), Suspend = true },
                CancellationToken.None),
            _ => async () => await values.SetAsync("k", "v", TimeSpan.FromMinutes(1)),
        };
        await act();
        connection.PrimaryRefresh.Started.Should().Be(0, "the server was the primary");

        // The server becomes another's replica; the client still takes it for the primary.
        await _multiplexer.GetServer(_first.Endpoint).ExecuteAsync("REPLICAOF", "127.0.0.1", _second!.Port.ToString(CultureInfo.InvariantCulture));

        (await act.Should().ThrowAsync<RedisServerException>()).Which.Message.Should().StartWith("READONLY");
        connection.PrimaryRefresh.Started.Should().Be(1, $"the refused {write} makes the connection look for the primary");
        await connection.PrimaryRefresh.Refreshing;
    }

    private static EmailGuardListEntry Entry(string value) => new()
    {
        Kind = EmailGuardListKind.Blocklist,
        PartyType = EmailGuardPartyType.Recipient,
        Value = value,
        Reason = "hard_bounce",
        CreatedAt = DateTimeOffset.UtcNow,
    };
}
