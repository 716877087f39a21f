using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Admin;

/// <summary>
/// DEVELOPMENT-ONLY sign-in for the EmailGuard dashboard: the sample's admin key (cookie or <c>X-Admin-Key</c> header,
/// see <see cref="AdminKey"/>) as an authentication scheme, so the dashboard is protected by an ordinary authorization
/// policy (<see cref="PolicyName"/>). A real app uses its own sign-in and a role or claim instead.
/// </summary>
internal sealed class AdminKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<SampleOptions> sample) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "SampleAdminKey";
    public const string PolicyName = "EmailGuardAdmin";
    public const string AdminClaim = "sample-admin";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AdminKey.IsAuthorized(Context, sample.Value))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        ClaimsIdentity identity = new([new Claim(ClaimTypes.Name, "sample-admin"), new Claim(AdminClaim, "true")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <summary>Sends a browser without the key to the sign-in form, which brings it back to the page it asked for.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        string back = Request.PathBase + Request.Path + Request.QueryString;
        Response.Redirect("/signin?returnUrl=" + Uri.EscapeDataString(back));
        return Task.CompletedTask;
    }
}
