using System.Globalization;
using EmailGuard.Testing.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The exact counts a tenant cap admits while reloads change it under concurrent checks: each check is decided by one
/// set of caps, and the old and the new limit count into one counter (its key names the window, not the limit).
/// </summary>
public sealed class SendGuardReloadCountTests
{
    private const string Root = "EmailGuard:SendGuard";
    private const int Low = 50;
    private const int High = 80;
    private const int Callers = 24;

    [Fact]
    public async Task Reload_TenantCapToggledWhileCallersCheck_AdmitsBetweenTheCaps_AndTheFinalCapAdmitsTheRest()
    {
        // The fake clock of SendGuardTestServices never moves, so the hourly window never ends.
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(TestSettings.Parse($"{Root}:Tenant:Rules:0:Limit={Low}", $"{Root}:Tenant:Rules:0:Window=01:00:00"))
            .Build();
        await using ServiceProvider services = SendGuardTestServices.Build(more: s => s.AddSingleton<IConfiguration>(configuration));
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();

        void Reload(int limit)
        {
            configuration[$"{Root}:Tenant:Rules:0:Limit"] = limit.ToString(CultureInfo.InvariantCulture);
            configuration.Reload();
        }

        (List<EmailSendDecision> decisions, int reloads) = await CheckWhileReloadingAsync(guard, i => Reload(i % 2 == 0 ? High : Low));

        decisions.Should().HaveCountGreaterThan(Callers * 20 - 1);
        decisions.Should().OnlyContain(
            d => d.Reason == EmailSendReason.Allowed || (d.Reason == EmailSendReason.LimitExceeded && d.Dimension == EmailGuardDimension.Tenant),
            "every check is admitted or denied by the tenant cap, whichever set of caps decided it");
        int admitted = decisions.Count(d => d.IsAllowed);
        admitted.Should().BeInRange(Low, High, "the old and the new cap count into one counter: no check admits past the highest cap in force, none is denied below the lowest");
        reloads.Should().BeGreaterThanOrEqualTo(100);

        // The reloads stopped: the cap ends at its final value, and a burst admits exactly what is left of it.
        foreach (int final in new[] { Low, High })
        {
            Reload(final);
            int before = admitted;
            EmailSendDecision[] burst = new EmailSendDecision[High + 10];
            for (int i = 0; i < burst.Length; i++)
            {
                burst[i] = await guard.CheckAsync(Mail($"burst{final}-{i}@example.com"));
            }

            int more = burst.Count(d => d.IsAllowed);
            more.Should().Be(Math.Max(0, final - before), "the final cap of {0} counts the {1} admitted during the reloads", final, before);
            burst.Skip(more).Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.Dimension == EmailGuardDimension.Tenant);
            admitted += more;
        }

        admitted.Should().Be(High);
    }

    [Fact]
    public async Task Reload_TenantAndGlobalCapsSwappedWhileCallersCheck_AdmitExactlyTheLowerOfEachSet()
    {
        // Each set of caps admits 50 (tenant 50 and global 80, or tenant 80 and global 50), so exactly 50 are admitted
        // however the reloads fall; a check that took its tenant rule from one set and its global rule from the other
        // would be capped at 80 by both, and admit past 50.
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(TestSettings.Parse($"{Root}:Tenant:Rules:0:Limit={Low}", $"{Root}:Global:Rules:0:Limit={High}"))
            .Build();
        await using ServiceProvider services = SendGuardTestServices.Build(more: s => s.AddSingleton<IConfiguration>(configuration));
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        (List<EmailSendDecision> decisions, _) = await CheckWhileReloadingAsync(guard, i =>
        {
            configuration[$"{Root}:Tenant:Rules:0:Limit"] = (i % 2 == 0 ? High : Low).ToString(CultureInfo.InvariantCulture);
            configuration[$"{Root}:Global:Rules:0:Limit"] = (i % 2 == 0 ? Low : High).ToString(CultureInfo.InvariantCulture);
            configuration.Reload();
        });

        decisions.Should().OnlyContain(d => d.Reason == EmailSendReason.Allowed || d.Reason == EmailSendReason.LimitExceeded);
        decisions.Count(d => d.IsAllowed).Should().Be(Low, "each check is decided by one set of caps, and each set admits {0}", Low);
    }

    /// <summary>
    /// Runs <see cref="Callers"/> callers checking mail for one tenant while <paramref name="reload"/> (given the
    /// reload's number) is called in a loop. Each caller checks until a hundred reloads have been taken (and at least 20
    /// times): many more checks than either cap, spread over the reloads, and no clock waited for.
    /// </summary>
    private static async Task<(List<EmailSendDecision> Decisions, int Reloads)> CheckWhileReloadingAsync(IEmailSendGuard guard, Action<int> reload)
    {
        using CancellationTokenSource done = new();
        int reloads = 0;
        Task reloader = Task.Run(() =>
        {
            for (int i = 0; !done.IsCancellationRequested; i++)
            {
                reload(i);
                Interlocked.Increment(ref reloads);
            }
        });

        List<EmailSendDecision> decisions = [];
        Task[] callers = [.. Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            List<EmailSendDecision> own = [];
            for (int i = 0; i < 20 || (Volatile.Read(ref reloads) < 100 && i < 100_000); i++)
            {
                own.Add(await guard.CheckAsync(Mail($"c{c}-r{i}@example.com")));
                await Task.Yield();
            }

            lock (decisions)
            {
                decisions.AddRange(own);
            }
        }))];
        await Task.WhenAll(callers);
        await done.CancelAsync();
        await reloader;
        return (decisions, Volatile.Read(ref reloads));
    }

    private static OutboundEmail Mail(string to) => new() { To = [to], TenantId = "acme" };
}
