using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// A tenant whose id reads as a pool (<c>pool:trial</c>) shows a partition of its own, never the pool's, in denials and
/// status, while its counter key stays the one made from its id (a rolling upgrade on Redis keeps its counts).
/// </summary>
public sealed class TenantPartitionTests
{
    [Theory]
    [InlineData("acme", "acme")]
    [InlineData("tenant:42", "tenant:42")]
    [InlineData("pools", "pools")]
    [InlineData("pool:trial", "tenant:pool:trial")]
    [InlineData("POOL:trial", "tenant:POOL:trial")]
    [InlineData("tenant:pool:trial", "tenant:tenant:pool:trial")]
    [InlineData("Tenant:TENANT:pool:", "tenant:Tenant:TENANT:pool:")]
    public void Of_ShowsAnIdThatReadsAsAPool_WithTenantBeforeIt(string tenantId, string partition)
        => TenantPartition.Of(tenantId).Should().Be(partition);

    [Theory]
    [InlineData("acme")]
    [InlineData("tenant:42")]
    [InlineData("tenant:")]
    [InlineData("pool:trial")]
    [InlineData("POOL:trial")]
    [InlineData("tenant:pool:trial")]
    [InlineData("Tenant:TENANT:pool:")]
    [InlineData("")]
    public void IdOf_IsTheInverseOfOf(string tenantId)
        => TenantPartition.IdOf(TenantPartition.Of(tenantId)).Should().Be(tenantId);

    [Fact]
    public void Of_NoTwoIds_AndNoIdAndPool_ShowTheSamePartition()
    {
        string[] ids = ["pool:trial", "tenant:pool:trial", "tenant:tenant:pool:trial", "trial", "tenant:trial", "tenant:", "pool:", ""];
        string[] shown = [.. ids.Select(TenantPartition.Of)];

        shown.Should().OnlyHaveUniqueItems();
        shown.Should().NotContain(s => s.StartsWith(TenantPoolRules.PartitionPrefix, StringComparison.OrdinalIgnoreCase), "a partition that begins with pool: is a pool's");
    }

    [Fact]
    public async Task TenantNamedLikeAPool_DeniedAndInStatus_ShowsItsOwnPartition_AndKeepsItsCounterKey()
    {
        // Arrange: the pool 'trial' (2 a day); the tenant 'pool:trial' is in no pool, with 3 a day of its own.
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerDay(3)], Pool = t == "pool:trial" ? null : "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)),
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 2; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"a{i}@example.com"], TenantId = "acme" })).IsAllowed.Should().BeTrue();
            (await guard.CheckAsync(new OutboundEmail { To = [$"p{i}@example.com"], TenantId = "pool:trial" })).IsAllowed.Should().BeTrue();
        }

        (await guard.CheckAsync(new OutboundEmail { To = ["p2@example.com"], TenantId = "pool:trial" })).IsAllowed.Should().BeTrue();

        // Act
        EmailSendDecision poolDenial = await guard.CheckAsync(new OutboundEmail { To = ["a2@example.com"], TenantId = "acme" });
        EmailSendDecision tenantDenial = await guard.CheckAsync(new OutboundEmail { To = ["p3@example.com"], TenantId = "pool:trial" });
        EmailGuardStatus tenantStatus = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "pool:trial" });
        EmailGuardStatus poolStatus = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });

        // Assert
        poolDenial.Partition.Should().Be("pool:trial");
        tenantDenial.Dimension.Should().Be(EmailGuardDimension.Tenant);
        tenantDenial.Partition.Should().Be("tenant:pool:trial", "the tenant's own cap denied, not the pool");
        EmailSendRuleUsage own = tenantStatus.Usage.Should().ContainSingle(u => u.Dimension == EmailGuardDimension.Tenant).Subject;
        own.Partition.Should().Be("tenant:pool:trial");
        own.Count.Should().Be(3);
        own.Request.Key.Should().Be(new SendGuardKeys(new SendGuardOptions()).Tenants.Get("pool:trial"), "the key is made from the id, as before");
        own.Request.Key.Should().StartWith(PartitionKeys.TenantPrefix);
        poolStatus.Usage.Should().ContainSingle(u => u.Partition == "pool:trial").Which.Count.Should().Be(2);
        poolStatus.Usage.Should().ContainSingle(u => u.Partition == "acme").Which.Count.Should().Be(2);
    }

    [Fact]
    public async Task PoolDenial_IsLoggedAsThePools_3080_AndTheTenantsOwnCapAs400()
    {
        // Arrange: the pool 'trial' caps 1 a day; the tenant 'solo' (in no pool) 1 a day of its own.
        FakeLogCollector logs = new();
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerDay(1)], Pool = t == "solo" ? null : "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1)),
            logs: logs,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "trial-1" });
        await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "solo" });

        // Act
        EmailSendDecision pool = await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "trial-2" });
        EmailSendDecision own = await guard.CheckAsync(new OutboundEmail { To = ["d@example.com"], TenantId = "solo" });

        // Assert
        pool.Partition.Should().Be("pool:trial");
        own.Partition.Should().Be("solo");
        logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3080).Which.Message.Should().Contain("tenant pool trial").And.Contain("tenant trial-2");
        logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 400).Which.Message.Should().Contain("tenant solo");
    }
}
