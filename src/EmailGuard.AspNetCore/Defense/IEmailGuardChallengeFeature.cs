namespace EmailGuard.AspNetCore;

/// <summary>
/// Says that the request carries a challenge (a CAPTCHA) that the app verified. The app's own middleware or filter
/// verifies the token with its provider (Turnstile, hCaptcha, reCAPTCHA) and sets it with
/// <c>context.Features.Set&lt;IEmailGuardChallengeFeature&gt;(new EmailGuardChallengeFeature(passed: true))</c> before
/// <c>UseEmailGuard()</c> runs. Only server code can set it; no header or form field sets it.
/// </summary>
public interface IEmailGuardChallengeFeature
{
    /// <summary>Gets whether the request passed the challenge.</summary>
    bool Passed { get; }
}
