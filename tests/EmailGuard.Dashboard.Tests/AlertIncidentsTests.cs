namespace EmailGuard.Dashboard.Tests;

/// <summary>When a condition that comes and goes starts a new incident, and what the bounded memory of them forgets.</summary>
public sealed class AlertIncidentsTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Started_AfterAStableEnd_IsNew_SoonerOrWhileOngoing_IsNot()
    {
        AlertIncidents incidents = new(TimeSpan.FromHours(1));

        bool first = incidents.Started("k", Start, endsAt: Start.AddMinutes(10));
        bool whileOngoing = incidents.Started("k", Start.AddMinutes(5), endsAt: Start.AddMinutes(8));
        bool justAfter = incidents.Started("k", Start.AddMinutes(12));
        incidents.Ended("k", Start.AddMinutes(20));
        bool afterStable = incidents.Started("k", Start.AddMinutes(20) + AlertIncidents.StableRecovery);

        (first, whileOngoing, justAfter, afterStable).Should().Be((false, false, false, true),
            "a start within the incident keeps its later end (10:10), so 10:12 is the same incident flapping");
    }

    [Fact]
    public void Full_ANewConditionIsNotRemembered_UntilEndedOnesOlderThanThePeriodAreForgotten()
    {
        AlertIncidents incidents = new(TimeSpan.FromMinutes(15));
        for (int i = 0; i < AlertIncidents.MaxTracked; i++)
        {
            incidents.Started($"ban:{i}", Start, endsAt: Start.AddMinutes(i == 0 ? 1 : 600));
        }

        incidents.Ended("new", Start.AddMinutes(2));
        bool whileFull = incidents.Started("new", Start.AddMinutes(10));
        incidents.Ended("new", Start.AddMinutes(20));
        bool afterPrune = incidents.Started("new", Start.AddMinutes(30));

        whileFull.Should().BeFalse("nothing could be forgotten, so the end of 'new' was not remembered");
        afterPrune.Should().BeTrue("ban:0 ended more than a period ago and was forgotten, which made room");
    }
}
