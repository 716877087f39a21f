using EmailGuard.AspNetCore;

namespace EmailGuard.Sample.Challenge;

/// <summary>
/// A DEVELOPMENT STAND-IN for a real CAPTCHA (Turnstile, hCaptcha, reCAPTCHA; see docs/endpoint-defense.md): a form
/// post whose <c>dev-challenge</c> field says "human" passes. A bot passes it as easily as a person; it only shows
/// where a real check plugs in. It runs before <c>UseEmailGuard()</c> and, like a real check, is the only code that
/// sets <see cref="IEmailGuardChallengeFeature"/>.
/// </summary>
internal static class DevelopmentChallenge
{
    public const string FieldName = "dev-challenge";

    public const string Answer = "human";

    private const long MaxFormBytes = 64 * 1024;

    public static IApplicationBuilder UseDevelopmentChallenge(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        HttpRequest request = context.Request;
        if (HttpMethods.IsPost(request.Method) && request.HasFormContentType && request.ContentLength is > 0 and <= MaxFormBytes)
        {
            IFormCollection form = await request.ReadFormAsync(context.RequestAborted);
            if (string.Equals(form[FieldName].ToString().Trim(), Answer, StringComparison.OrdinalIgnoreCase))
            {
                context.Features.Set<IEmailGuardChallengeFeature>(new EmailGuardChallengeFeature(passed: true));
            }
        }

        await next(context);
    });
}
