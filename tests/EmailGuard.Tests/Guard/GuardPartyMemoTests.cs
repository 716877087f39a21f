using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A thread's check buffers remember the key cache entries of the last check's parties by the identity of the strings
/// the message gave (<see cref="GuardPartyMemo"/>): a check of another guard, whose caches key the same strings
/// otherwise, must not be answered from them.
/// </summary>
public sealed class GuardPartyMemoTests
{
    [Fact]
    public async Task Check_TwoGuardsNormalizingDifferentlyTakeTurnsOnOneThread_EachKeysTheSameStringsItsOwnWay()
    {
        // Arrange: one guard strips plus tags, the other does not; both are given the very same string objects.
        await using ServiceProvider stripping = SendGuardTestServices.Build(Configure);
        await using ServiceProvider keeping = SendGuardTestServices.Build(o =>
        {
            Configure(o);
            o.AddressNormalization.StripPlusTags = false;
        });
        IEmailSendGuard strips = stripping.GetRequiredService<IEmailSendGuard>();
        IEmailSendGuard keeps = keeping.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = new() { To = ["ivan+x@ya.example"], Sender = "noreply+a@app.example", TenantId = "acme", UserId = "u1" };

        // Act: each guard checks the same message object in turn, synchronously, so every check rents the same buffers.
        List<string?[]> partitions = [];
        for (int round = 0; round < 2; round++)
        {
            foreach (IEmailSendGuard guard in new[] { strips, keeps })
            {
                ValueTask<EmailSendDecision> pending = guard.CheckAsync(message);
                pending.IsCompletedSuccessfully.Should().BeTrue();
                EmailSendDecision decision = await pending;
                decision.IsAllowed.Should().BeTrue();
                partitions.Add([.. decision.Usage.ToArray().Select(u => u.Partition)]);
            }
        }

        // Assert
        string?[] stripped = ["acme", "noreply@app.example", "u1", "ivan@ya.example"];
        string?[] kept = ["acme", "noreply+a@app.example", "u1", "ivan+x@ya.example"];
        partitions.Should().HaveCount(4);
        partitions[0].Should().Equal(stripped);
        partitions[1].Should().Equal(kept);
        partitions[2].Should().Equal(stripped);
        partitions[3].Should().Equal(kept);
    }

    private static void Configure(SendGuardOptions options)
    {
        options.Tenant.Add(RateLimitRule.PerHour(100));
        options.Sender.Add(RateLimitRule.PerHour(100));
        options.User.Add(RateLimitRule.PerHour(100));
        options.Recipient.Add(RateLimitRule.PerHour(100));
    }
}
