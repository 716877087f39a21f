using System.Globalization;
using System.Text.Encodings.Web;

namespace EmailGuard.Sample.Limits;

/// <summary>
/// The page a rate-limited visitor sees instead of a bare 429: what happened, in words, and when to try again.
/// </summary>
internal static class FriendlyLimitPage
{
    /// <summary>
    /// Whole minutes for a person, from the Retry-After the guard computed. Rounded to the nearest minute (a wait of
    /// 14 min 20 s reads "14 minutes"), never below 1 so that nobody is told to retry "in 0 minutes".
    /// </summary>
    public static int Minutes(TimeSpan retryAfter)
        => retryAfter == TimeSpan.MaxValue ? int.MaxValue : Math.Max(1, (int)Math.Round(retryAfter.TotalMinutes, MidpointRounding.AwayFromZero));

    /// <summary>"try again in 14 minutes", or a plain statement when waiting cannot help.</summary>
    public static string RetryPhrase(TimeSpan retryAfter)
    {
        int minutes = Minutes(retryAfter);
        return minutes == int.MaxValue
            ? "this request is larger than the limit allows"
            : string.Create(CultureInfo.InvariantCulture, $"try again in {minutes} minute{(minutes == 1 ? string.Empty : "s")}");
    }

    public static string Message(string headline, TimeSpan retryAfter) => $"{headline}, {RetryPhrase(retryAfter)}.";

    /// <summary>
    /// Writes the "prove you are human" page of a policy that asks for a challenge (status 403, set by the middleware):
    /// the form carries the challenge, so the visitor goes back, answers it, and sends the form again.
    /// </summary>
    public static async Task WriteChallengeAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        await response.WriteAsync($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Challenge - EmailGuard sample</title>
            <link rel="icon" href="data:,">
            <style>{{SampleStyles.Css}}</style>
            </head>
            <body>
            <header><a class="brand" href="/">EmailGuard sample</a></header>
            <main>
            <h1>One more step</h1>
            <div class="notice warn big" id="challenge-message" role="alert">Please show us you are human: answer the challenge on the form and send it again.</div>
            <p><a id="challenge-back" href="{{HtmlEncoder.Default.Encode(context.Request.Path.Value ?? "/")}}">Back to the form</a></p>
            </main>
            </body>
            </html>
            """, context.RequestAborted);
    }

    /// <summary>Writes the page; the status code and Retry-After are the middleware's.</summary>
    public static async Task WriteBodyAsync(HttpContext context, string headline, TimeSpan retryAfter)
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        string message = HtmlEncoder.Default.Encode(Message(headline, retryAfter));
        await response.WriteAsync($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Slow down - EmailGuard sample</title>
            <link rel="icon" href="data:,">
            <style>{{SampleStyles.Css}}</style>
            </head>
            <body>
            <header><a class="brand" href="/">EmailGuard sample</a></header>
            <main>
            <h1>Slow down</h1>
            <div class="notice warn big" id="limit-message" role="alert">{{message}}</div>
            <p class="muted">This limit protects our mail reputation: every mail we send to an address that did not ask for it
            makes it likelier that real users' mail is blocked. <a href="/">Back to the start page</a>.</p>
            </main>
            </body>
            </html>
            """, context.RequestAborted);
    }
}
