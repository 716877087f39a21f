using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Bad input is rejected before any counter moves.
public abstract partial class RateLimitStoreContractTests
{
    public static TheoryData<string?> BadKeys => new()
    {
        null,
        string.Empty,
        " ",
        "\t\r\n",
        new string('k', RateLimitRequest.MaxKeyLength + 1),
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Acquire_BadKey_ThrowsNamingRequestsAndMovesNothing(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(badKey!, rule) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Peek_BadKey_ThrowsNamingRequests(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.PeekAsync(new RateLimitRequest[] { new(badKey!, rule, 0) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Refund_BadKey_ThrowsNamingRequestsAndMovesNothing(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.RefundAsync(new RateLimitRequest[] { new(witness, rule), new(badKey!, rule) }, default(RateLimitDecision));

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Reset_BadKey_ThrowsNamingKey(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.ResetAsync(badKey!, rule);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_KeyOfMaximumLength_IsAccepted()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(1);
        string key = NewKey("max");
        key += new string('k', RateLimitRequest.MaxKeyLength - key.Length);

        // Act
        (RateLimitDecision first, _) = await AcquireOneAsync(store, key, rule);
        (RateLimitDecision second, _) = await AcquireOneAsync(store, key, rule);

        // Assert
        first.IsAllowed.Should().BeTrue();
        second.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_NullRule_ThrowsNamingRequestsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(NewKey("null-rule"), null!) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Reset_NullRule_ThrowsNamingRule()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.ResetAsync(witness, null!);

        // Assert
        await act.Should().ThrowAsync<ArgumentNullException>().WithParameterName("rule");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    [InlineData(RateLimitRule.MaxLimit + 1)]
    public async Task Acquire_CostOutOfRange_ThrowsNamingRequestsAndMovesNothing(long cost)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule, cost) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Refund_CostBelowOne_ThrowsNamingRequestsAndMovesNothing(long cost)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.RefundAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule, cost) }, default(RateLimitDecision));

        // Assert
        await act.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Peek_CostZero_IsAcceptedButNegativeIsNot()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        (RateLimitDecision zero, RateLimitEntry zeroEntry) = await PeekOneAsync(store, witness, rule, 0);
        Func<Task> negative = async () => await store.PeekAsync(new RateLimitRequest[] { new(witness, rule, -1) }, Memory<RateLimitEntry>.Empty);

        // Assert
        zero.IsAllowed.Should().BeTrue();
        zeroEntry.Count.Should().Be(WitnessCount);
        await negative.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_ResultsBufferShorterThanRequests_ThrowsNamingResultsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule) }, new RateLimitEntry[1]);
        Func<Task> peek = async () => await store.PeekAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule) }, new RateLimitEntry[1]);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentException>().WithParameterName("results");
        await peek.Should().ThrowAsync<ArgumentException>().WithParameterName("results");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_MoreThanMaximumRequests_ThrowsNamingRequestsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        RateLimitRequest[] requests = Enumerable.Repeat(new RateLimitRequest(witness, rule), RateLimitValidation.MaxRequestsPerCall + 1).ToArray();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_CanceledToken_ThrowsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        using CancellationTokenSource cts = new();
        await cts.CancelAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule) }, Memory<RateLimitEntry>.Empty, cts.Token);

        // Assert
        await act.Should().ThrowAsync<OperationCanceledException>();
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }
}
