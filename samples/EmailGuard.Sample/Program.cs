using EmailGuard;
using EmailGuard.Sample;
using EmailGuard.Sample.Accounts;
using EmailGuard.Sample.Admin;
using EmailGuard.Sample.Challenge;
using EmailGuard.Sample.Limits;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddRazorPages();
builder.Services.Configure<SampleOptions>(builder.Configuration.GetSection("Sample"));
builder.Services.Configure<MailOptions>(builder.Configuration.GetSection("Mail"));
builder.Services.Configure<SmtpOptions>(builder.Configuration.GetSection("Smtp"));

// EmailGuard. The send guard's rules come from the "EmailGuard:SendGuard" section of appsettings.json; the endpoint
// policies are set here in code. Both styles work for every option (docs/configuration.md).
IEmailGuardBuilder emailGuard = builder.Services.AddEmailGuard()
    .AddSendGuard()
    .AddTenantLimitProvider<SqliteTenantLimitProvider>()
    .AddEndpointPolicies(endpoints =>
    {
        // Bound to the forms' OnPost handlers with [EmailRateLimit], so viewing a form never spends the quota.
        // One sign-up per network per 15 minutes (sliding, so nobody gets a fresh quota at a window boundary), ten
        // per IPv4 /24 or IPv6 /48, so a bot cannot rotate through the 65,536 /64s of its /48, and a few per target
        // address, so nobody can mail-bomb one victim from many networks.
        // A network that keeps hitting the limit is banned for an hour, then longer; a surge of sign-ups from many
        // networks (20 x the usual rate, at least 100 a minute) asks for a challenge for 15 minutes.
        // EmailGuard:Endpoints:PolicyDefenses:signup:RequireChallenge = true asks for it always.
        endpoints.AddPolicy("signup", policy => policy
            .PerClientIp(RateLimitRule.SlidingWindow(1, TimeSpan.FromMinutes(15), 60))
            .PerClientNetwork(24, 48, RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(15), 60))
            .PerField("email", RateLimitRule.PerHour(3))
            .WithEscalatingBan(ban => ban.MaxDenials = 5)
            .WithSurgeBreaker(surge =>
            {
                surge.BaselineMultiple = 20;
                surge.BaselineFloorPerMinute = 5;
                surge.TripFor = TimeSpan.FromMinutes(15);
            }));
        endpoints.AddPolicy("password-reset", policy => policy
            .PerClientIp(RateLimitRule.SlidingWindow(5, TimeSpan.FromMinutes(15), 60))
            .PerField("email", RateLimitRule.PerHour(3)));
        endpoints.OnRejected = SampleRejections.WriteFriendlyPageAsync;
    })
    // The operator's dashboard (mapped below) and alerts; EmailGuard:Alerts in appsettings.json says where alerts go.
    .AddDashboard()
    .AddAlerts();

// The dashboard requires an authorization policy. Here it is the sample's DEVELOPMENT-ONLY admin key, as an
// authentication scheme; a real app names a policy of its own sign-in (a role or claim).
builder.Services.AddAuthentication(AdminKeyAuthenticationHandler.SchemeName)
    .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, AdminKeyAuthenticationHandler>(AdminKeyAuthenticationHandler.SchemeName, null);
builder.Services.AddAuthorization(o => o.AddPolicy(AdminKeyAuthenticationHandler.PolicyName, p => p
    .AddAuthenticationSchemes(AdminKeyAuthenticationHandler.SchemeName)
    .RequireClaim(AdminKeyAuthenticationHandler.AdminClaim)));

// The in-memory store by default, so the sample runs on a fresh machine; one setting switches to Redis, and
// AddRedisStore() binds the rest of EmailGuard:Redis (KeyPrefix is in appsettings.json).
if (builder.Configuration["EmailGuard:Redis:Configuration"] is { Length: > 0 })
{
    emailGuard.AddRedisStore();
}

// Provider feedback. In development the sample plays the mail provider: mail to @bounce.test and @complaint.test comes
// back through the real, signed Mailgun webhook route, and the bounced address lands on the blocklist. A real app
// enables the provider it uses under EmailGuard:Webhooks with its real secret (docs/feedback.md).
bool feedbackWebhooks = builder.Configuration.GetValue<bool>("EmailGuard:Webhooks:Mailgun:Enabled");
if (feedbackWebhooks)
{
    emailGuard.AddFeedbackWebhooks();
    builder.Services.AddSingleton<ProviderFeedbackSimulator>();
}

// Readiness for a load balancer: 503 while the store's circuit is open, so a dead Redis takes the instance out of
// rotation instead of letting every request wait out the timeout (docs/resilience.md).
builder.Services.AddHealthChecks().AddEmailGuardStore(tags: ["ready"]);

builder.Services.AddSingleton<SampleDatabase>();
builder.Services.AddSingleton<Outbox>();
builder.Services.AddSingleton<MailQueue>();
builder.Services.AddSingleton<SampleMailer>();
builder.Services.AddSingleton<AccountMail>();
builder.Services.AddHostedService<MailQueueWorker>();
builder.Services.AddSingleton<IMailTransport>(sp =>
    string.IsNullOrEmpty(sp.GetRequiredService<IOptions<SmtpOptions>>().Value.Host)
        ? ActivatorUtilities.CreateInstance<PickupFolderTransport>(sp)
        : ActivatorUtilities.CreateInstance<SmtpMailTransport>(sp));

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error");
}

// The DEVELOPMENT STAND-IN for a CAPTCHA check: it must run before UseEmailGuard(), as a real check would. Only in
// Development: it passes any post that says "human", so elsewhere it would wave every bot through the challenge a surge
// of sign-ups asks for. Outside Development, plug a real check in here (docs/endpoint-defense.md); without one, a
// challenged sign-up is refused.
if (app.Environment.IsDevelopment())
{
    app.UseDevelopmentChallenge();
}

app.UseEmailGuard();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.MapRazorPages();
app.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains("ready") });
if (feedbackWebhooks)
{
    app.MapEmailGuardFeedback("/emailguard/feedback");
}
app.MapEmailGuardDashboard("/emailguard", o =>
{
    o.AuthorizationPolicy = AdminKeyAuthenticationHandler.PolicyName;
    o.Title = "EmailGuard sample";
});

app.Run();

/// <summary>Public so that tests can start the sample with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
