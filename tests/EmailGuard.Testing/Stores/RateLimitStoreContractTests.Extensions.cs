using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// The convenience extensions decide like the store.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Extensions_NullRequestList_ThrowArgumentNull()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        IReadOnlyList<RateLimitRequest> requests = null!;

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(requests, CancellationToken.None);
        Func<Task> peek = async () => await store.PeekAsync(requests, CancellationToken.None);
        Func<Task> refund = async () => await store.RefundAsync(requests, default(RateLimitDecision), CancellationToken.None);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await peek.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await refund.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_NullStoreOrRule_ThrowArgumentNull()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        IRateLimitStore nullStore = null!;

        // Act
        Func<Task> noStore = async () => await nullStore.AcquireAsync(witness, rule);
        Func<Task> noStoreList = async () => await nullStore.AcquireAsync(new[] { new RateLimitRequest(witness, rule) }, CancellationToken.None);
        Func<Task> noRule = async () => await store.AcquireAsync(witness, null!);

        // Assert
        await noStore.Should().ThrowAsync<ArgumentNullException>().WithParameterName("store");
        await noStoreList.Should().ThrowAsync<ArgumentNullException>().WithParameterName("store");
        await noRule.Should().ThrowAsync<ArgumentNullException>().WithParameterName("rule");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Extensions_BadSingleKey_ThrowNamingKey(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(badKey!, rule);
        Func<Task> peek = async () => await store.PeekAsync(badKey!, rule);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await peek.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_SingleKeyCostOutOfRange_ThrowNamingCost()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquireZero = async () => await store.AcquireAsync(witness, rule, 0);
        Func<Task> peekNegative = async () => await store.PeekAsync(witness, rule, -1);

        // Assert
        await acquireZero.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("cost");
        await peekNegative.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("cost");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_SingleKeyAndList_DecideLikeTheStore()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(3);
        string key = NewKey("ext");

        // Act
        (RateLimitDecision single, RateLimitEntry singleEntry) = await store.AcquireAsync(key, rule, 2);
        RateLimitDecision listDenied = await store.AcquireAsync(new List<RateLimitRequest> { new(key, rule, 2) }, CancellationToken.None);
        RateLimitDecision listPeek = await store.PeekAsync(new List<RateLimitRequest> { new(key, rule, 1) }, CancellationToken.None);
        await store.RefundAsync(new List<RateLimitRequest> { new(key, rule, 2) }, single, CancellationToken.None);
        (_, RateLimitEntry afterRefund) = await store.PeekAsync(key, rule);

        // Assert
        single.IsAllowed.Should().BeTrue();
        singleEntry.Should().Be(new RateLimitEntry(true, 2, 3, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        listDenied.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, StartOfMinute.AddMinutes(1) - Start, Start));
        listPeek.IsAllowed.Should().BeTrue();
        afterRefund.Count.Should().Be(0);
    }
}
