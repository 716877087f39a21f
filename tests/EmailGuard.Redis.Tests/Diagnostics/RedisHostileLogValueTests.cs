using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Diagnostics;

/// <summary>
/// Hostile values through an app on the Redis store: a blocklist reason and the name of who listed it (kept in Redis),
/// a tenant and user id, and the tenant a bounce is attributed to. No Redis log line carries party data; every line logged on the way,
/// by the core and by the Redis package, stays on one line and within the bound.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisHostileLogValueTests(RedisServerFixture redis)
{
    private const string Forged = "x\r\nwarn: EmailGuard[2001] Store unavailable\u001B[2J\u0085\u2028";

    /// <summary>
    /// These tests are about what is logged, not about timeouts: on a loaded machine a first call over a new connection
    /// can pass the default 250 ms, and a timed-out call logs other events than the ones asserted.
    /// </summary>
    private static readonly TimeSpan s_generousTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SendGuardAndFeedbackOnRedis_HostileValues_EveryLogLineStaysOneBoundedLine()
    {
        // Arrange
        FakeLogCollector logs = new();
        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        ServiceCollection services = new();
        services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
        services.Configure<StoreResilienceOptions>(o => o.Timeout = s_generousTimeout);
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = RedisServerFixture.UniquePrefix();
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(o => o.Tenant.Add(RateLimitRule.PerHour(10)));
        await using ServiceProvider sp = services.BuildServiceProvider();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "spam" + Forged, addedBy: new string('a', 20_000));

        // Act
        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(
            new OutboundEmail { To = ["victim@example.com"], TenantId = Forged, UserId = Forged });
        await sp.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "e-1",
            Recipient = "other@example.com",
            Kind = EmailFeedbackKind.Complained,
            Attribution = new EmailSendAttribution { TenantId = Forged },
        });

        // Assert
        decision.Reason.Should().Be(EmailSendReason.Blocklisted);
        IReadOnlyList<FakeLogRecord> records = logs.GetSnapshot();
        records.Select(r => r.Id.Id).Should().Contain([430, 401, 1700], because: $"the log held {string.Join(", ", records.Select(r => $"{r.Id.Id} {r.Level}"))}");
        foreach (FakeLogRecord record in records)
        {
            record.Message.Should().NotContainAny(["\r", "\n", "\u001B", "\u0085", "\u2028"], because: $"event {record.Id} must stay one line");
            record.Message.Length.Should().BeLessThan(1_000, $"event {record.Id} carries bounded values");
        }
    }

    [Fact]
    public async Task AcquireOnRedis_ErrorReplyQuotesAHostileKey_LoggedExceptionPrintsNoForgedLine()
    {
        // Arrange: an app that keys the store by a raw id it was given, and a counter someone else wrote that holds no
        // integer. The script's error reply quotes the key: Redis turns its CR and LF into spaces, but ESC, NEL and
        // U+2028 come back as they were, in the message of the exception the resilient store logs.
        FakeLogCollector logs = new();
        string prefix = RedisServerFixture.UniquePrefix();
        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        ServiceCollection services = new();
        services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
        services.Configure<StoreResilienceOptions>(o => o.Timeout = s_generousTimeout);
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = prefix;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            });
        await using ServiceProvider sp = services.BuildServiceProvider();
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromHours(1));
        const string Key = "k" + Forged;
        string counter = ((RedisRateLimitStore)sp.GetRequiredService<IRateLimitStore>()).CounterKey(Key, rule);
        await multiplexer.GetDatabase().StringSetAsync(counter, "abc", TimeSpan.FromMinutes(1));

        // Act
        RateLimitDecision decision = await sp.GetRequiredService<IResilientRateLimitStore>().AcquireAsync(
            new[] { new RateLimitRequest("a", rule), new RateLimitRequest(Key, rule) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailClosed);

        // Assert
        decision.Status.Should().Be(RateLimitStatus.StoreUnavailable);
        FakeLogRecord failure = logs.GetSnapshot().First(r => r.Exception is not null);
        failure.Exception!.ToString().Should().Contain("does not hold an integer").And.Contain(@"\u001B[2J");
        string printed = failure.Message + Environment.NewLine + failure.Exception;
        printed.Should().NotContainAny(["\r", "\u001B", "\u0085", "\u2028"]);
        printed.Split('\n').Should().NotContain(line => line.StartsWith("warn:", StringComparison.Ordinal));
    }
}
