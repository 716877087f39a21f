namespace EmailGuard.Tests.FairShare;

/// <summary>
/// Which tenants this instance registered as active, per window: bounded, and a flood of made-up tenants does not
/// make it forget the tenants it registered (it used to empty itself when full).
/// </summary>
public sealed class FairShareRegistrationMemoryTests
{
    [Fact]
    public void Full_WithTheWindowBeforeOnly_MakesRoomFromIt()
    {
        FairShareBudget budget = new(RateLimitRule.PerHour(1_000), 0.8);
        int claimed = Enumerable.Range(0, FairShareBudget.MaxRegisteredTenants).Count(i => budget.TryClaimRegistration($"t{i}", 1));
        claimed.Should().Be(FairShareBudget.MaxRegisteredTenants);

        budget.TryClaimRegistration("acme", 2).Should().BeTrue();

        budget.IsRegistered("acme", 2).Should().BeTrue("the registrations of window 1 made room");
        budget.TryClaimRegistration("acme", 2).Should().BeFalse("remembered: no second registration call");
    }

    [Fact]
    public void Full_WithThisWindow_RegistersTheNewcomerWithoutForgettingAnyone()
    {
        FairShareBudget budget = new(RateLimitRule.PerHour(1_000), 0.8);
        budget.TryClaimRegistration("acme", 5).Should().BeTrue();
        int claimed = Enumerable.Range(1, FairShareBudget.MaxRegisteredTenants - 1).Count(i => budget.TryClaimRegistration($"made-up-{i}", 5));
        claimed.Should().Be(FairShareBudget.MaxRegisteredTenants - 1);

        budget.TryClaimRegistration("one-too-many", 5).Should().BeTrue("it registers, through the store");

        budget.IsRegistered("acme", 5).Should().BeTrue("the tenant registered first is not forgotten");
        budget.TryClaimRegistration("acme", 5).Should().BeFalse();
        budget.IsRegistered("one-too-many", 5).Should().BeFalse("past the bound, a newcomer is not remembered");
    }
}
