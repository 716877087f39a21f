using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The monitor logs each breaker trip with its title, which names the tripped party: a user or tenant id an app's
/// callers choose. An id of "u\r\nwarn: EmailGuard[2001] ..." used to forge a second line in a plain-text log, and
/// one of 20,000 chars wrote a 20 KB line. Both are now escaped and bounded in the line; the event log keeps the id.
/// </summary>
public sealed class HostileLogValueTests
{
    private static EmailRatioBreakerArguments Trip(string partition) => new()
    {
        Dimension = EmailGuardDimension.User,
        Partition = partition,
        Reason = EmailGuardFlagReasons.HighBounceRate,
        Action = EmailRatioBreakerAction.Reduced,
        Counts = new EmailFeedbackCounts { Dimension = EmailGuardDimension.User, Sends = 10, Bounces = 5, Window = TimeSpan.FromDays(1), Timestamp = DateTimeOffset.UtcNow },
        ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
    };

    [Fact]
    public async Task BreakerTrip_PartyIdForgingALine_IsLoggedOnOneLine_AndWithinTheBound()
    {
        // Arrange
        CapturingLoggerProvider logs = new();
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        Func<EmailRatioBreakerArguments, ValueTask> onTripped = host.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.OnTripped!;

        // Act
        await onTripped(Trip("u\r\nwarn: EmailGuard[2001] Store unavailable\u001B[2J"));
        await onTripped(Trip(new string('x', 20_000)));

        // Assert
        string[] trips = [.. logs.Messages.Where(m => m.Contains("Ratio breaker: User", StringComparison.Ordinal))];
        trips.Should().HaveCount(2);
        trips[0].Should().NotContainAny("\r", "\n", "\u001B").And.Contain(@"u\u000D\u000Awarn: EmailGuard[2001] Store unavailable\u001B[2J");
        trips[1].Should().Contain("...[truncated, ").And.NotContain(new string('x', 257));
    }
}
