namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>Which servers decide acquires across slots master by master: Redis or Valkey 7 and later, never Garnet.</summary>
public sealed class RedisNodeScriptDetectionTests
{
    public static TheoryData<string, string?, bool> Servers => new()
    {
        { "# Server\r\nredis_version:7.0.15\r\n", null, true },
        { "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n", null, true },
        { "# Server\r\nredis_version:6.2.14\r\n", null, false },
        { "# Server\r\ngarnet_version:2.2.8\r\nserver_name:garnet\r\nredis_version:7.4.3\r\n", null, false },
        { "# Server\r\nredis_version:7.0.15\r\n", "ERR This Redis command is not allowed from script", false },
    };

    [Theory]
    [MemberData(nameof(Servers))]
    public void CanRunNodeScripts_OneMasterOfEachKindBesideRedis7_OnlyWhenEveryMasterCan(string info, string? refusal, bool expected)
    {
        RedisPrimaryInfo redis7 = new("a:1", "# Server\r\nredis_version:7.0.15\r\n", refusal: null);
        RedisPrimaryInfo other = new("b:2", refusal is null ? info : null, refusal);

        RedisRateLimitStore.CanRunNodeScripts([redis7, other]).Should().Be(expected);
    }

    [Fact]
    public void CanRunNodeScripts_NoMasterRead_SlotBySlot()
        => RedisRateLimitStore.CanRunNodeScripts([]).Should().BeFalse();
}
