using System.Net;
using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A route value partition whose name no parameter of the endpoint's route has (a typo in a policy, most likely one
/// from configuration, or a route renamed since) counts nothing, so its limit is silently not in force there: the app
/// warns (3107) at start and after each reload, naming the endpoint, its route, the policy and the partition.
/// </summary>
public sealed class RouteValuePartitionWarningTests
{
    private const string Invite = "EmailGuard:Endpoints:Policies:invite";

    [Fact]
    public async Task Start_PartitionNamingNoParameterOfTheRoute_WarnsForThatEndpointAlone_AndItCountsNothingThere()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerRouteValue("id", RateLimitRule.PerHour(1)))),
            a =>
            {
                a.MapPost("/api/invite/{code}", (string code) => Results.Ok(code)).RequireEmailRateLimit("invite");
                a.MapPost("/api/share/{id}", (string id) => Results.Ok(id)).RequireEmailRateLimit("invite");
            });

        // The typo is what the warning says: the endpoint whose route lacks 'id' admits every request.
        (await app.PostAllAsync("203.0.113.7", "/api/invite/a", "/api/invite/a", "/api/invite/a")).Should().AllBeEquivalentTo(HttpStatusCode.OK);
        (await app.PostAllAsync("203.0.113.7", "/api/share/a", "/api/share/a")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);

        string[] warnings = [.. app.Logs.GetSnapshot().Where(r => r.Id.Id == 3107).Select(r => r.Message)];
        warnings.Should().ContainSingle().Which.Should().Contain("(/api/invite/{code})").And.Contain("policy 'invite'").And.Contain("partition 'id'")
            .And.Contain("counts nothing there");
    }

    [Theory]
    [InlineData(MissingValueBehavior.Reject, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, "rejected with 400")]
    [InlineData(MissingValueBehavior.ShareOneBucket, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, "one bucket")]
    public async Task Start_PartitionNamingNoParameterOfTheRoute_WarningSaysWhatWhenValueMissingDoesThere(
        MissingValueBehavior behavior, HttpStatusCode first, HttpStatusCode second, string says)
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerRouteValue("id", RateLimitRule.PerHour(1)).WhenValueMissing(behavior))),
            a => a.MapPost("/api/invite/{code}", (string code) => Results.Ok(code)).RequireEmailRateLimit("invite"));

        (await app.PostAllAsync("203.0.113.7", "/api/invite/a", "/api/invite/b")).Should().Equal(first, second);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3107).Should().ContainSingle()
            .Which.Message.Should().Contain(says).And.NotContain("counts nothing");
    }

    [Fact]
    public async Task Reload_ConfiguredPartitionRenamedToATypo_Warns_AndFixingItBackDoesNot()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/api/invite/{code}", (string code) => Results.Ok(code)).RequireEmailRateLimit("invite"),
            TestSettings.Parse(
                $"{Invite}:Partitions:0:PartitionBy=RouteValue", $"{Invite}:Partitions:0:Name=code",
                $"{Invite}:Partitions:0:Rules:0:Limit=1", $"{Invite}:Partitions:0:Rules:0:Window=1h"));
        int atStart = app.Logs.GetSnapshot().Count(r => r.Id.Id == 3107);

        app.App.Configuration[$"{Invite}:Partitions:0:Name"] = "cod";
        ((IConfigurationRoot)app.App.Configuration).Reload();
        int afterTypo = app.Logs.GetSnapshot().Count(r => r.Id.Id == 3107);
        app.App.Configuration[$"{Invite}:Partitions:0:Name"] = "code";
        ((IConfigurationRoot)app.App.Configuration).Reload();

        atStart.Should().Be(0);
        afterTypo.Should().Be(1);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 3107).Should().Be(1, "the fixed name fills again");
    }
}
