using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>What an empty or blank AllowlistedUsers entry could match, had it been let through to the allowlist.</summary>
public sealed class EndpointAllowlistTests
{
    public static TheoryData<string, HttpContext> Requests => new()
    {
        { "an anonymous request", new DefaultHttpContext() },
        { "an authenticated user without an id claim or a name", Authenticated() },
        { "an authenticated user whose id is empty", Authenticated(new Claim(ClaimTypes.NameIdentifier, string.Empty)) },
        { "an authenticated user whose id is spaces", Authenticated(new Claim(ClaimTypes.NameIdentifier, "  ")) },
        { "an authenticated user whose sub is spaces", Authenticated(new Claim("sub", "  ")) },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void EmptyOrBlankUserEntry_IsAFailure_AndMatchesNoRequest(string request, HttpContext context)
    {
        var matched = new List<string>();
        var failures = new List<string>();
        foreach (string entry in new[] { string.Empty, "  " })
        {
            var options = new EmailGuardEndpointOptions();
            options.AllowlistedUsers.Add("ops");
            options.AllowlistedUsers.Add(entry);
            List<string> errors = [];

            EndpointAllowlist allowlist = EndpointAllowlist.Create(options, errors);

            if (allowlist.Contains(context))
            {
                matched.Add($"'{entry}'");
            }

            failures.AddRange(errors);
        }

        matched.Should().BeEmpty("no entry may exempt {0}", request);
        failures.Should().HaveCount(2).And.AllSatisfy(f => f.Should().StartWith("EmailGuard:Endpoints:AllowlistedUsers:1 is empty"));
    }

    [Fact]
    public void UserEntry_MatchesThatAuthenticatedUserOnly()
    {
        var options = new EmailGuardEndpointOptions();
        options.AllowlistedUsers.Add("ops");

        EndpointAllowlist allowlist = EndpointAllowlist.Create(options, []);

        allowlist.Contains(Authenticated(new Claim(ClaimTypes.NameIdentifier, "ops"))).Should().BeTrue();
        allowlist.Contains(Authenticated(new Claim(ClaimTypes.NameIdentifier, "other"))).Should().BeFalse();
    }

    private static DefaultHttpContext Authenticated(params Claim[] claims)
        => new() { User = new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType: "test")) };
}
