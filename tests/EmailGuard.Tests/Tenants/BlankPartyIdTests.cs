using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// A party id of only whitespace names no party: the operator APIs that take one refuse it as they refuse an empty one,
/// with an <see cref="ArgumentException"/> at the call. <see cref="IEmailGuardTenantLimits.InvalidateAsync"/> recorded a
/// change of the tenant "   " (and the dashboard's reload action had to refuse it on its own), and the feedback counts
/// answered zeros for it, where the flags and the lists already refused it.
/// </summary>
public sealed class BlankPartyIdTests
{
    public static TheoryData<string> BlankIds => new() { string.Empty, " ", "   ", "\t", "\u00A0", "\r\n" };

    [Theory]
    [MemberData(nameof(BlankIds))]
    public async Task InvalidateAsync_BlankTenantId_IsRefusedAsAnEmptyOne(string id)
    {
        await using FeedbackTestApp app = new();
        IEmailGuardTenantLimits limits = app.Services.GetRequiredService<IEmailGuardTenantLimits>();

        Func<Task> invalidate = () => limits.InvalidateAsync(id).AsTask();

        (await invalidate.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("tenantId");
    }

    [Fact]
    public async Task InvalidateAsync_NullTenantId_StillArgumentNull()
    {
        await using FeedbackTestApp app = new();
        IEmailGuardTenantLimits limits = app.Services.GetRequiredService<IEmailGuardTenantLimits>();

        Func<Task> invalidate = () => limits.InvalidateAsync(null!).AsTask();

        await invalidate.Should().ThrowAsync<ArgumentNullException>();
    }

    [Theory]
    [MemberData(nameof(BlankIds))]
    public async Task FlagsAndLists_BlankTenantId_AreRefusedAlike(string id)
    {
        await using FeedbackTestApp app = new();
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();

        Func<Task>[] calls =
        [
            () => flags.FlagAsync(EmailGuardPartyType.Tenant, id, EmailGuardFlagReasons.Manual).AsTask(),
            () => flags.ClearAsync(EmailGuardPartyType.Tenant, id).AsTask(),
            () => flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, id).AsTask(),
            () => app.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id, "manual").AsTask(),
            () => app.Lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id).AsTask(),
            () => app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id).AsTask(),
        ];

        foreach (Func<Task> call in calls)
        {
            await call.Should().ThrowAsync<ArgumentException>();
        }
    }

    [Theory]
    [MemberData(nameof(BlankIds))]
    public async Task FeedbackCounts_BlankTenantOrUserId_IsRefusedAsAnEmptyOne(string id)
    {
        await using FeedbackTestApp app = new();

        Func<Task>[] calls =
        [
            () => app.Counts.GetAsync(EmailGuardDimension.Tenant, id).AsTask(),
            () => app.Counts.GetAsync(EmailGuardDimension.User, id).AsTask(),
            () => app.Counts.GetStatusAsync(new EmailGuardStatusQuery { TenantId = id }).AsTask(),
            () => app.Counts.GetStatusAsync(new EmailGuardStatusQuery { UserId = id }).AsTask(),
        ];

        foreach (Func<Task> call in calls)
        {
            await call.Should().ThrowAsync<ArgumentException>();
        }
    }
}
