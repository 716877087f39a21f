using System.Net;
using System.Reflection;
using EmailGuard;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// One app that binds the address every way an endpoint can: minimal APIs, MVC actions and Razor Pages, from a JSON
/// body, a form, the query string and the route; every endpoint carries the policy <c>reset</c>.
/// </summary>
internal static class BindingApp
{
    public const string Victim = "victim@example.com";

    public static readonly string[] JsonPaths = ["/min/json", "/mvc/bind/json", "/Binding/Json"];

    /// <summary>Endpoints that bind a JSON body, by host.</summary>
    public static readonly TheoryData<string> JsonEndpoints = new(JsonPaths);

    public static readonly string[] FormPaths = ["/min/form", "/mvc/bind/form", "/Binding/Form", "/mvc/plain/any"];

    /// <summary>Endpoints that bind a form field, by host.</summary>
    public static readonly TheoryData<string> FormEndpoints = new(FormPaths);

    /// <summary>Endpoints that bind the address from the query string when the body does not carry it.</summary>
    public static readonly TheoryData<string> QueryEndpoints = new() { "/min/query", "/mvc/bind/query", "/Binding/Form", "/mvc/plain/any" };

    /// <summary>Endpoints that bind the address from the route; the address is appended.</summary>
    public static readonly TheoryData<string> RouteEndpoints = new() { "/min/route/", "/mvc/bind/route/", "/Binding/Form/" };

    /// <summary>Starts the app; <paramref name="redis"/> and <paramref name="prefix"/> put the counters in Redis.</summary>
    public static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy, RedisServerFixture? redis = null, string? prefix = null,
        Action<EmailGuardEndpointOptions>? configure = null)
        => TestApp.StartAsync(
            services =>
            {
                services.AddSingleton<BoundValues>();
                services.AddRazorPages()
                    .AddApplicationPart(typeof(BindingApp).Assembly)
                    .ConfigureApplicationPartManager(m => m.FeatureProviders.Add(new BindingControllersOnly()));
                services.AddControllers();
                IEmailGuardBuilder guard = services.AddEmailGuard();
                if (redis is not null)
                {
                    guard.AddRedisStore(o =>
                    {
                        o.Configuration = redis.ConnectionString;
                        o.KeyPrefix = prefix ?? RedisServerFixture.UniquePrefix();
                        o.UseServerTime = false;
                    });
                }

                guard.AddEndpointPolicies(o =>
                {
                    o.AddPolicy("reset", policy);
                    configure?.Invoke(o);
                });
            },
            app =>
            {
                BoundValues bound = app.Services.GetRequiredService<BoundValues>();
                app.MapPost("/min/json", (BodyFieldTests.ResetRequest body) => Bound(bound, body.Email)).RequireEmailRateLimit("reset");
                app.MapPost("/min/form", ([FromForm] string email) => Bound(bound, email)).RequireEmailRateLimit("reset").DisableAntiforgery();
                app.MapPost("/min/query", (string email) => Bound(bound, email)).RequireEmailRateLimit("reset");
                app.MapPost("/min/route/{email}", (string email) => Bound(bound, email)).RequireEmailRateLimit("reset");
                app.MapControllers().RequireEmailRateLimit("reset");
                app.MapRazorPages().RequireEmailRateLimit("reset");
            });

    public static BoundValues Bound(this TestApp app) => app.App.Services.GetRequiredService<BoundValues>();

    /// <summary>Sends <paramref name="attempts"/> POSTs, each from its own address, as an attacker rotating IPs would.</summary>
    public static async Task<List<HttpStatusCode>> PostManyAsync(this TestApp app, string path, int attempts, Func<int, HttpContent?> body)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < attempts; i++)
        {
            using HttpResponseMessage response = await app.PostAsync(path, $"203.0.113.{i + 1}", body(i));
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private static IResult Bound(BoundValues bound, string? email)
    {
        bound.Add(email);
        return Results.Ok(email);
    }

    /// <summary>Keeps the other tests' controllers out of this app, and this app's out of theirs.</summary>
    private sealed class BindingControllersOnly : IApplicationFeatureProvider<ControllerFeature>
    {
        public void PopulateFeature(IEnumerable<ApplicationPart> parts, ControllerFeature feature)
        {
            feature.Controllers.Clear();
            feature.Controllers.Add(typeof(BindingController).GetTypeInfo());
            feature.Controllers.Add(typeof(PlainBindingController).GetTypeInfo());
        }
    }
}
