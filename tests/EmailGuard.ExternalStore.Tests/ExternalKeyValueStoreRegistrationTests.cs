using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// An external key-value store registered with <c>AddKeyValueStore</c> carries feedback end to end, and the
/// registration behaves in the orders an app calls it.
/// </summary>
public sealed class ExternalKeyValueStoreRegistrationTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 10, 17, 23, TimeSpan.Zero);

    [Fact]
    public async Task Feedback_WithExternalKeyValueStore_AttributesThroughIt_AndCountsTheSameEventOnce()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(time);
        services.AddEmailGuard()
            .AddKeyValueStore<ExternalKeyValueStore>()
            .AddSendGuard(o => o.Recipient.Add(RateLimitRule.PerHour(100)));
        await using ServiceProvider provider = services.BuildServiceProvider(validateScopes: true);
        IEmailGuardFeedback feedback = provider.GetRequiredService<IEmailGuardFeedback>();
        ExternalKeyValueStore store = provider.GetRequiredService<ExternalKeyValueStore>();
        EmailFeedbackEvent delivered = new()
        {
            Provider = "ses",
            ProviderEventId = "evt-1",
            ProviderMessageId = "msg-1",
            Recipient = "someone@example.org",
            Kind = EmailFeedbackKind.Delivered,
            Timestamp = Start,
        };

        // Act: the send is tracked under the provider's message id, and the provider reports its delivery twice.
        await feedback.TrackForProviderAsync("ses", "msg-1", new EmailSendAttribution { TenantId = "acme" });
        EmailFeedbackResult first = await feedback.RecordAsync(delivered);
        EmailFeedbackResult second = await feedback.RecordAsync(delivered);

        // Assert
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeSameAs(store);
        first.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        first.Attribution!.TenantId.Should().Be("acme", "the mapping was read back from the external store");
        second.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        second.Attribution!.TenantId.Should().Be("acme");
        string mappingKey = store.Calls.Should().ContainSingle(c => c.StartsWith("add ", StringComparison.Ordinal)).Which["add ".Length..];
        mappingKey.Should().NotContain("msg-1", "the provider's id is hashed into the key");
        store.Calls.Should().Equal(["add " + mappingKey, "get " + mappingKey, "get " + mappingKey], "both reports look the send up in the external store, found under their provider's key at once");
        EmailFeedbackCounts tenant = await provider.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "acme");
        tenant.Delivered.Should().Be(1, "the second report is a duplicate");
    }

    [Fact]
    public async Task AddEmailGuard_WithoutAddKeyValueStore_KeepsValuesInMemory()
    {
        // Arrange
        ServiceCollection services = new();
        services.AddEmailGuard();
        await using ServiceProvider provider = services.BuildServiceProvider();

        // Act
        IEmailGuardKeyValueStore store = provider.GetRequiredService<IEmailGuardKeyValueStore>();
        string? first = await store.GetOrAddAsync("default:key", "a", TimeSpan.FromMinutes(1));
        string? second = await store.GetOrAddAsync("default:key", "b", TimeSpan.FromMinutes(1));

        // Assert
        store.Should().NotBeOfType<ExternalKeyValueStore>();
        store.GetType().Name.Should().Be("InMemoryKeyValueStore");
        first.Should().BeNull();
        second.Should().Be("a");
    }

    [Fact]
    public void AddKeyValueStore_ThenAddEmailGuardAgain_KeepsTheExternalStore()
    {
        // Arrange: a library the app uses calls AddEmailGuard() once more after the app chose its store.
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Start));
        services.AddEmailGuard().AddKeyValueStore<ExternalKeyValueStore>();

        // Act
        services.AddEmailGuard();
        using ServiceProvider provider = services.BuildServiceProvider();

        // Assert
        services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore)).Should().Be(1);
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeSameAs(provider.GetRequiredService<ExternalKeyValueStore>());
    }

    [Fact]
    public void AddKeyValueStore_CalledTwiceOrWithAnotherStore_RegistersOneStore_AndTheLastWins()
    {
        // Arrange
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Start));
        IEmailGuardBuilder builder = services.AddEmailGuard();

        // Act
        builder.AddKeyValueStore<ExternalKeyValueStore>().AddKeyValueStore<ExternalKeyValueStore>();
        int afterTwice = services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore));
        builder.AddKeyValueStore<OtherKeyValueStore>();
        using ServiceProvider provider = services.BuildServiceProvider();

        // Assert
        afterTwice.Should().Be(1);
        services.Count(d => d.ServiceType == typeof(ExternalKeyValueStore)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore)).Should().Be(1);
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeOfType<OtherKeyValueStore>();
    }

    [Fact]
    public void AddKeyValueStore_Factory_CreatesTheStoreOnce_TheFirstFactoryWins_AndItIsResolvableAsItself()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        int created = 0;
        ServiceCollection services = new();
        IEmailGuardBuilder builder = services.AddEmailGuard();

        // Act
        builder.AddKeyValueStore(_ =>
        {
            created++;
            return new ExternalKeyValueStore(time);
        });
        builder.AddKeyValueStore<ExternalKeyValueStore>(_ => throw new InvalidOperationException("Only the first factory creates the store."));
        using ServiceProvider provider = services.BuildServiceProvider();
        IEmailGuardKeyValueStore store = provider.GetRequiredService<IEmailGuardKeyValueStore>();

        // Assert
        store.Should().BeSameAs(provider.GetRequiredService<ExternalKeyValueStore>());
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeSameAs(store);
        created.Should().Be(1);
    }

    [Fact]
    public void AddKeyValueStore_NullArguments_Throw()
    {
        IEmailGuardBuilder builder = new ServiceCollection().AddEmailGuard();

        FluentActions.Invoking(() => EmailGuardStoreBuilderExtensions.AddKeyValueStore<ExternalKeyValueStore>(null!)).Should().Throw<ArgumentNullException>().WithParameterName("builder");
        FluentActions.Invoking(() => builder.AddKeyValueStore<ExternalKeyValueStore>(null!)).Should().Throw<ArgumentNullException>().WithParameterName("factory");
    }

    private sealed class OtherKeyValueStore : IEmailGuardKeyValueStore
    {
        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();
    }
}
