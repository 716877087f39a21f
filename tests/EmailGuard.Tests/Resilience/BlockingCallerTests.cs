using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// An app may block on the task of a check or of a resilient store call (<c>.GetAwaiter().GetResult()</c> in code
/// that cannot be async). The store calls inside them take their state from a pool, and a pooled task that is still
/// pending answers a blocking read with an exception, not the decision: the tasks an app gets must not be those. On the
/// in-memory store every task is complete at once, so this breaks only on a remote store, in production.
/// </summary>
public sealed class BlockingCallerTests
{
    private static readonly RateLimitRule Hourly = RateLimitRule.PerHour(10);

    [Fact]
    public void ResilientStoreInterface_PendingCall_BlockedOn_GivesTheDecision()
    {
        // Arrange: a store whose calls hang until released, so the call is still pending when the app blocks on it.
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        IResilientRateLimitStore store = harness.Resilient;

        // Act
        ValueTask<RateLimitDecision> pending = store.AcquireAsync(ResilienceHarness.One("k", Hourly), Memory<RateLimitEntry>.Empty, StoreFailureMode.FailClosed);
        bool pendingWhenBlocked = !pending.IsCompleted;
        _ = ReleaseWhenHanging(harness.Store);
#pragma warning disable xUnit1031 // Blocking is what this test is about: an app that cannot await.
        RateLimitDecision decision = pending.GetAwaiter().GetResult();
#pragma warning restore xUnit1031

        // Assert
        pendingWhenBlocked.Should().BeTrue();
        decision.IsAllowed.Should().BeTrue("the store admitted it once released");
    }

    [Theory]
    [InlineData("check")]
    [InlineData("reserve")]
    [InlineData("peek")]
    public void SendGuard_PendingOnARemoteStore_BlockedOn_GivesTheDecision(string call)
    {
        // Arrange
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        FakeRateLimitStore remote = new(time) { Behavior = FakeStoreBehavior.Hang };
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(time);
        services.AddEmailGuard()
            .AddRateLimitStore(_ => remote)
            .AddSendGuard(o => o.Tenant.Add(Hourly));
        using ServiceProvider sp = services.BuildServiceProvider();
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };

        // Act
        ValueTask<EmailSendDecision> pending = call switch
        {
            "check" => guard.CheckAsync(message),
            "reserve" => guard.ReserveAsync(message),
            _ => guard.PeekAsync(message),
        };
        bool pendingWhenBlocked = !pending.IsCompleted;
        _ = ReleaseWhenHanging(remote);
#pragma warning disable xUnit1031 // Blocking is what this test is about: an app that cannot await.
        EmailSendDecision decision = pending.GetAwaiter().GetResult();
#pragma warning restore xUnit1031

        // Assert
        pendingWhenBlocked.Should().BeTrue();
        decision.IsAllowed.Should().BeTrue("the store admitted it once released");
    }

    /// <summary>Releases the store's hanging call from another thread once it hangs, while the test thread blocks.</summary>
    private static Task ReleaseWhenHanging(FakeRateLimitStore store) => Task.Run(async () =>
    {
        using CancellationTokenSource bound = new(TimeSpan.FromMinutes(1));
        while (store.Hanging.IsEmpty)
        {
            await Task.Delay(10, bound.Token);
        }

        store.ReleaseHanging();
    });
}
