using System.Globalization;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Content;

/// <summary>
/// The fan-out pattern: a user whose admitted mail goes mostly to recipients new to it is flagged <c>fan_out</c>, and
/// its limits drop; a user writing to people it already knows is not. Includes the ways an attacker would dilute it.
/// </summary>
public sealed class FanOutTests
{
    [Fact]
    public async Task NewRecipientsPastTheThreshold_FlagsTheUserOnce_AndItsLimitsDrop()
    {
        // Arrange: 20 new recipients an hour flag; the user may send 100 an hour, a tenth of that once flagged.
        FakeLogCollector logs = new();
        await using ServiceProvider sp = Build(o => o.User.Add(RateLimitRule.PerHour(100)), logs: logs);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // Act: 30 strangers, one message each.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 30; i++)
        {
            decisions.Add(await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example")));
        }

        // Assert: the 20th new recipient flagged the user; the flag cut its limit to 10, already spent.
        EmailGuardFlag flag = (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().ContainSingle().Subject;
        flag.Reason.Should().Be(EmailGuardFlagReasons.FanOut);
        flag.Metadata.Should().Contain("new_recipients", "20").And.Contain("known_recipients", "0");
        decisions.Take(20).Should().OnlyContain(d => d.IsAllowed);
        decisions.Skip(20).Should().OnlyContain(d => !d.IsAllowed && d.Dimension == EmailGuardDimension.User);
        logs.GetSnapshot().Count(r => r.Id.Id == 2208).Should().Be(1, "one flag per period");
    }

    [Fact]
    public async Task AUserWritingToPeopleItKnows_IsNeverFlagged()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = Build(time: time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // A week ago the user wrote to its 40 customers; this hour it writes to all of them again, and to 10 new ones.
        for (int i = 0; i < 40; i++)
        {
            (await guard.CheckAsync(Mail("alice", $"customer{i}@clients.example"))).IsAllowed.Should().BeTrue();
        }

        time.Advance(TimeSpan.FromDays(7));
        for (int i = 0; i < 40; i++)
        {
            (await guard.CheckAsync(Mail("alice", $"customer{i}@clients.example"))).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < 25; i++)
        {
            (await guard.CheckAsync(Mail("alice", $"lead{i}@prospects.example"))).IsAllowed.Should().BeTrue();
        }

        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "alice"))
            .Should().BeEmpty("25 new recipients against 40 known ones is 38 % new, under the 80 % share");
    }

    [Fact]
    public async Task Attacker_WritingAgainAndAgainToOneOldContact_DoesNotDiluteTheShare()
    {
        // A known recipient counts once per period: 100 messages to one old contact are one known recipient.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = Build(time: time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("mallory", "old-friend@example.com"));
        time.Advance(TimeSpan.FromDays(2));

        for (int i = 0; i < 30; i++)
        {
            await guard.CheckAsync(Mail("mallory", "old-friend@example.com"));
            await guard.CheckAsync(Mail("mallory", "old-friend@example.com"));
            await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example"));
        }

        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory"))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
    }

    [Fact]
    public async Task Attacker_WritingAgainToThisHoursNewRecipients_DoesNotDiluteTheShare()
    {
        // Recipients first seen earlier in the period count as neither new nor known.
        await using ServiceProvider sp = Build();
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 20; i++)
        {
            await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example"));
            for (int repeat = 0; repeat < 3; repeat++)
            {
                await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example"));
            }
        }

        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory"))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
    }

    [Fact]
    public async Task Attacker_OneMessageToManyStrangers_CountsEveryRecipientUpToTheMaximum()
    {
        await using ServiceProvider sp = Build(o => o.FanOut.MaxRecipientsPerMessage = 10);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        await guard.CheckAsync(new OutboundEmail { To = [.. Enumerable.Range(0, 15).Select(i => $"v{i}@strangers.example")], UserId = "mallory" });
        bool flaggedAfterOne = (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Count > 0;
        await guard.CheckAsync(new OutboundEmail { To = [.. Enumerable.Range(15, 15).Select(i => $"v{i}@strangers.example")], UserId = "mallory" });

        flaggedAfterOne.Should().BeFalse("10 of the first message's 15 recipients were looked at");
        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory"))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
    }

    [Fact]
    public async Task NoUser_TheTenantIsFlagged_AndDeniedMessagesCountNothing()
    {
        await using ServiceProvider sp = Build(o => o.Recipient.Add(RateLimitRule.PerHour(1)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // The same stranger 30 times: denied after the first, so one new recipient in all.
        for (int i = 0; i < 30; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = ["same@strangers.example"], TenantId = "trial-9" });
        }

        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial-9")).Should().BeEmpty();
        for (int i = 0; i < 20; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = [$"v{i}@strangers.example"], TenantId = "trial-9" });
        }

        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial-9"))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
    }

    [Fact]
    public async Task KeyValueStoreFailing_MessagesStillGoOut_NoOneIsFlagged_AndItIsLogged()
    {
        FakeLogCollector logs = new();
        await using ServiceProvider sp = Build(logs: logs, more: s => s.AddSingleton<IEmailGuardKeyValueStore>(new FailingKeyValueStore()));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        List<bool> allowed = [];
        for (int i = 0; i < 30; i++)
        {
            allowed.Add((await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example"))).IsAllowed);
        }

        allowed.Should().OnlyContain(a => a);
        (await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().BeEmpty();
        logs.GetSnapshot().Count(r => r.Id.Id == 2209).Should().Be(30);
    }

    [Fact]
    public async Task Off_ByDefault_RemembersNoRecipients()
    {
        RecordingKeyValueStore store = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(more: s => s.AddSingleton<IEmailGuardKeyValueStore>(store));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 30; i++)
        {
            await guard.CheckAsync(Mail("mallory", $"victim{i}@strangers.example"));
        }

        store.Calls.Should().Be(0);
    }

    [Fact]
    public async Task RecipientKeys_HoldNoAddress()
    {
        RecordingKeyValueStore store = new();
        await using ServiceProvider sp = Build(more: s => s.AddSingleton<IEmailGuardKeyValueStore>(store));

        await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(Mail("mallory", "victim@strangers.example"));

        store.Keys.Should().ContainSingle().Which.Should().MatchRegex("^emailguard:fo:[0-9a-f]{32}$");
    }

    [Theory]
    [InlineData("EmailGuard:SendGuard:FanOut:NewRecipients", "-1", "EmailGuard:SendGuard:FanOut:NewRecipients must be between 0")]
    [InlineData("EmailGuard:SendGuard:FanOut:NewShare", "1.5", "EmailGuard:SendGuard:FanOut:NewShare must be between 0 and 1")]
    [InlineData("EmailGuard:SendGuard:FanOut:Period", "00:00:00.500", "EmailGuard:SendGuard:FanOut:Period must be whole seconds")]
    [InlineData("EmailGuard:SendGuard:FanOut:Memory", "00:10:00", "EmailGuard:SendGuard:FanOut:Memory must be at least Period")]
    [InlineData("EmailGuard:SendGuard:FanOut:MaxRecipientsPerMessage", "0", "EmailGuard:SendGuard:FanOut:MaxRecipientsPerMessage must be between 1")]
    [InlineData("EmailGuard:SendGuard:FanOut:NewRecipent", "5", "EmailGuard:SendGuard:FanOut:NewRecipent: unknown setting; did you mean NewRecipients?")]
    public async Task StartupValidation_InvalidSetting_FailsNamingTheSetting(string key, string value, string expected)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: new Dictionary<string, string?> { [key] = value });

        Action start = () => sp.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate();

        start.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    private static ServiceProvider Build(
        Action<SendGuardOptions>? configure = null, FakeTimeProvider? time = null, FakeLogCollector? logs = null, Action<IServiceCollection>? more = null)
        => SendGuardTestServices.Build(
            o =>
            {
                o.FanOut.NewRecipients = 20;
                configure?.Invoke(o);
            },
            time: time,
            logs: logs,
            more: more);

    private static OutboundEmail Mail(string user, string to) => new() { To = [to], UserId = user, TenantId = "t-" + user };

    private sealed class FailingKeyValueStore : IEmailGuardKeyValueStore
    {
        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("down");

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("down");

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("down");

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("down");
    }

    private sealed class RecordingKeyValueStore : IEmailGuardKeyValueStore
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public int Calls { get; private set; }

        public IEnumerable<string> Keys => _values.Keys;

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Calls++;
            _values[key] = value;
            return ValueTask.CompletedTask;
        }

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            Calls++;
            return ValueTask.FromResult(_values.GetValueOrDefault(key));
        }

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            Calls++;
            if (_values.TryGetValue(key, out string? existing))
            {
                return ValueTask.FromResult<string?>(existing);
            }

            _values[key] = value;
            return ValueTask.FromResult<string?>(null);
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            Calls++;
            return ValueTask.FromResult(_values.GetValueOrDefault(key) == expectedValue && _values.Remove(key));
        }
    }
}
