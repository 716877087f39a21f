using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class PolicyTests
{
    [Fact]
    public async Task MultiLimitPolicy_PerMinuteAndPerDay_BothEnforced()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
                o.AddPolicy("reset", p => p.PerClientIp(RateLimitRule.PerMinute(5), RateLimitRule.PerDay(12)))),
            a => a.MapPost("/reset", () => Results.Ok()).RequireEmailRateLimit("reset"));

        var perMinute = new List<int>();
        for (int minute = 0; minute < 3; minute++)
        {
            int ok = 0;
            for (int i = 0; i < 7; i++)
            {
                using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.7");
                ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            perMinute.Add(ok);
            app.Time.Advance(TimeSpan.FromMinutes(1));
        }

        using HttpResponseMessage dayExhausted = await app.PostAsync("/reset", "203.0.113.7");
        perMinute.Should().Equal(5, 5, 2);
        dayExhausted.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        dayExhausted.RetryAfterSeconds().Should().Be((long)TimeSpan.FromDays(1).TotalSeconds - 180);
        dayExhausted.Header("RateLimit-Policy").Should().Be("\"reset.ip.60s\";q=5;w=60, \"reset.ip.86400s\";q=12;w=86400");
        dayExhausted.Header("RateLimit").Should().StartWith("\"reset.ip.86400s\";r=0;");
    }

    [Fact]
    public async Task RouteGroup_RequireEmailRateLimit_AppliesToEveryEndpointAndDisableExempts()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("mail", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
            a =>
            {
                RouteGroupBuilder group = a.MapGroup("/mail").RequireEmailRateLimit("mail");
                group.MapPost("/share", () => Results.Ok());
                group.MapPost("/invite", () => Results.Ok());
                group.MapGet("/status", () => Results.Ok()).DisableEmailRateLimit();
            });

        using HttpResponseMessage share = await app.PostAsync("/mail/share", "203.0.113.7");
        using HttpResponseMessage invite = await app.PostAsync("/mail/invite", "203.0.113.7");
        var status = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await app.GetAsync("/mail/status", "203.0.113.7");
            status.Add(response.StatusCode);
        }

        share.StatusCode.Should().Be(HttpStatusCode.OK);
        invite.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "endpoints of one group share the policy's counter");
        status.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task EndpointPolicy_InsideGroupWithOtherPolicy_EndpointPolicyWins()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("loose", p => p.PerClientIp(RateLimitRule.PerHour(100)));
                o.AddPolicy("strict", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            }),
            a => a.MapGroup("/g").RequireEmailRateLimit("loose").MapPost("/x", () => Results.Ok()).RequireEmailRateLimit("strict"));

        using HttpResponseMessage first = await app.PostAsync("/g/x", "203.0.113.7");
        using HttpResponseMessage second = await app.PostAsync("/g/x", "203.0.113.7");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task UserPartition_AuthenticatedUsers_CountedSeparatelyAcrossIps()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p.PerUser(RateLimitRule.PerHour(2)))),
            a =>
            {
                TestApp.UseUserHeader(a);
                a.UseEmailGuard();
                a.MapPost("/share", () => Results.Ok()).RequireEmailRateLimit("share");
            },
            useEmailGuard: false);

        async Task<HttpStatusCode> Post(string user, string ip)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/share", ip);
            if (user.Length > 0)
            {
                request.Headers.Add("X-Test-User", user);
            }

            using HttpResponseMessage response = await app.Client.SendAsync(request);
            return response.StatusCode;
        }

        (await Post("alice", "203.0.113.1")).Should().Be(HttpStatusCode.OK);
        (await Post("alice", "203.0.113.2")).Should().Be(HttpStatusCode.OK);
        (await Post("alice", "203.0.113.3")).Should().Be(HttpStatusCode.TooManyRequests, "the user is counted whatever the IP");
        (await Post("bob", "203.0.113.1")).Should().Be(HttpStatusCode.OK);
        (await Post(string.Empty, "203.0.113.1")).Should().Be(HttpStatusCode.OK, "anonymous requests are not in the user partition");
    }

    [Fact]
    public async Task TenantHeaderPartition_GiantHeaderValue_HashedAndLimited()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("t", p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(1)))),
            a => a.MapPost("/t", () => Results.Ok()).RequireEmailRateLimit("t"));
        string giant = new('a', 32 * 1024);

        async Task<HttpStatusCode> Post(string tenant)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/t", "203.0.113.1");
            request.Headers.TryAddWithoutValidation("X-Tenant", tenant);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            return response.StatusCode;
        }

        (await Post(giant)).Should().Be(HttpStatusCode.OK);
        (await Post(giant)).Should().Be(HttpStatusCode.TooManyRequests);
        (await Post("acme")).Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RouteValueAndCustomKeyPartitions_CountPerValue()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("mailbox", p => p
                .PerRouteValue("id", RateLimitRule.PerHour(2))
                .PerKey("agent", c => c.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null, RateLimitRule.PerHour(3)))),
            a => a.MapPost("/mailbox/{id}", (string id) => Results.Ok(id)).RequireEmailRateLimit("mailbox"));

        var statuses = new List<HttpStatusCode>();
        foreach (string id in new[] { "a", "a", "a", "b", "b" })
        {
            using HttpResponseMessage response = await app.PostAsync($"/mailbox/{id}", "203.0.113.1");
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK);
    }

    [Fact]
    public async Task RouteValuePartition_SpellingsOfOneNumberOrGuid_ShareOneCounter()
    {
        // Arrange: a per-mailbox limit of 2 an hour on routes that bind an int and a Guid.
        var mailbox = Guid.NewGuid();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("mailbox", p => p.PerRouteValue("id", RateLimitRule.PerHour(2)))),
            a =>
            {
                a.MapPost("/mailbox/{id:int}", (int id) => Results.Ok(id)).RequireEmailRateLimit("mailbox");
                a.MapPost("/inbox/{id:guid}", (Guid id) => Results.Ok(id)).RequireEmailRateLimit("mailbox");
            });
        string[] numbers = ["/mailbox/42", "/mailbox/042", "/mailbox/0000042", "/mailbox/+42"];
        string[] guids = [$"/inbox/{mailbox:D}", $"/inbox/{mailbox:N}", "/inbox/" + mailbox.ToString("B").ToUpperInvariant(), $"/inbox/{mailbox:P}"];

        // Act: every request from its own IP, as a distributed attack on one mailbox comes.
        var statuses = new List<HttpStatusCode>();
        foreach ((string path, int i) in numbers.Concat(guids).Select((p, i) => (p, i)))
        {
            using HttpResponseMessage response = await app.PostAsync(path, $"203.0.113.{i + 1}");
            statuses.Add(response.StatusCode);
        }

        // Assert: each route binds every spelling to one mailbox, so its third request is over the limit.
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public void RouteValueKey_SpellingsOfOneValue_AreOneKey()
    {
        new[] { "42", "042", "+42", " 42 ", "0x2A", "#2a", "&H002A" }.Select(RouteValueKey.Canonical).Should().AllBe("42");
        new[] { "0", "-0", "000", "0x0" }.Select(RouteValueKey.Canonical).Should().AllBe("0");
        RouteValueKey.Canonical("-007").Should().Be("-7");
        RouteValueKey.Canonical("99999999999999999999999").Should().Be("99999999999999999999999", "a number of any length keeps its digits");
        RouteValueKey.Canonical("team inbox").Should().Be("team inbox");
        RouteValueKey.Canonical("#").Should().Be("#");
        RouteValueKey.Canonical("0x").Should().Be("0x");
        RouteValueKey.Canonical("{6F9619FF-8B86-D011-B42D-00C04FC964FF}").Should().Be("6f9619ff-8b86-d011-b42d-00c04fc964ff");
        foreach (string canonical in new[] { "42", "-7", "0", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "team inbox" })
        {
            RouteValueKey.Canonical(canonical).Should().BeSameAs(canonical, "a value already canonical is kept, not copied");
        }
    }

    [Fact]
    public async Task RouteValuePartition_ValueSpellingAnotherValuesHashedKey_DoesNotSpendItsLimit()
    {
        // Arrange: the victim's mailbox id has a space, so its counter's key part is hashed ("h:" and 32 hex digits).
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("mailbox", p => p.PerRouteValue("id", RateLimitRule.PerHour(2)))),
            a => a.MapPost("/mailbox/{id}", (string id) => Results.Ok(id)).RequireEmailRateLimit("mailbox"));
        string victim = "team inbox";
        string forged = Uri.EscapeDataString(StoreKeyEncoding.EncodeValue(victim));

        // Act: the attacker posts twice with the victim's key part as its own id.
        HttpStatusCode[] attacker = new HttpStatusCode[2];
        for (int i = 0; i < attacker.Length; i++)
        {
            using HttpResponseMessage response = await app.PostAsync($"/mailbox/{forged}", "203.0.113.66");
            attacker[i] = response.StatusCode;
        }

        using HttpResponseMessage victimResponse = await app.PostAsync($"/mailbox/{Uri.EscapeDataString(victim)}", "203.0.113.1");

        // Assert
        attacker.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK);
        victimResponse.StatusCode.Should().Be(HttpStatusCode.OK, "the attacker's value has a counter of its own");
    }

    [Fact]
    public async Task AtomicAcquire_SecondPartitionDenies_FirstIsNotConsumed()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("p", p => p
                .PerClientIp(RateLimitRule.PerHour(2))
                .PerKey("global", _ => "all", RateLimitRule.PerMinute(1)))),
            a => a.MapPost("/x", () => Results.Ok()).RequireEmailRateLimit("p"));

        (await app.PostAsync("/x", "203.0.113.1")).StatusCode.Should().Be(HttpStatusCode.OK);
        for (int i = 0; i < 4; i++)
        {
            (await app.PostAsync("/x", "203.0.113.1")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        }

        app.Time.Advance(TimeSpan.FromMinutes(1));
        (await app.PostAsync("/x", "203.0.113.1")).StatusCode.Should().Be(HttpStatusCode.OK,
            "the four denied requests took nothing from the per-IP hour");
        app.Time.Advance(TimeSpan.FromMinutes(1));
        (await app.PostAsync("/x", "203.0.113.1")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the per-IP hour is used up");
    }
}
