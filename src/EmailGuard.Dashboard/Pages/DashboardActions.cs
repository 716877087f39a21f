using System.Globalization;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// The dashboard's POST actions. Each checks the anti-forgery token first; a destructive one (remove from a list,
/// clear a flag, suspend) answers with a confirmation page until the form comes back with <c>confirmed=yes</c>.
/// Then it acts and redirects (303) to the page it came from with a message.
/// </summary>
internal static class DashboardActions
{
    /// <summary>The longest value an action takes: more than any address (320), id or reason its forms let one type.</summary>
    internal const int MaxFieldLength = 1_000;

    /// <summary>
    /// The longest value removing from a list or clearing a flag takes. Those forms carry a value the store holds, as the
    /// app or a breaker wrote it, and the store takes party ids and flag reasons of any length: refused at
    /// <see cref="MaxFieldLength"/>, a flag whose reason quotes a long detail could not be cleared from the dashboard.
    /// The questions and notices quote at most <see cref="MaxFieldLength"/> characters of it.
    /// </summary>
    internal const int MaxStoredFieldLength = 16_384;

    /// <summary>The fields the actions read; a confirmation page carries these on, and nothing else that was posted.</summary>
    private static readonly string[] ActionFields = ["kind", "type", "value", "id", "reason", "hours"];

    public static Task AddToListAsync(DashboardRequest request)
        => RunAsync(request, MaxFieldLength, destructive: _ => null, async form =>
        {
            EmailGuardListKind kind = ListsPage.ParseKind(form["kind"].ToString());
            EmailGuardPartyType type = PartyType(form["type"].ToString(), any: true);
            TimeSpan? duration = int.TryParse(form["hours"], NumberStyles.None, CultureInfo.InvariantCulture, out int hours) && hours is > 0 and <= 87_600 ? TimeSpan.FromHours(hours) : null;
            string reason = form["reason"].ToString();
            EmailGuardListEntry entry = await Lists(request).AddAsync(kind, type, form["value"].ToString(), string.IsNullOrWhiteSpace(reason) ? "manual" : reason, duration, request.Operator, request.Context.RequestAborted).ConfigureAwait(false);
            return (ListsPage.Back(request, kind, entry.PartyType), $"Added {entry.PartyType} {entry.Value} to the {kind.ToString().ToLowerInvariant()}.");
        });

    public static Task RemoveFromListAsync(DashboardRequest request)
        => RunAsync(
            request,
            MaxStoredFieldLength,
            destructive: form => $"Remove {form["type"]} {Quote(form["value"])} from the {ListsPage.ParseKind(form["kind"].ToString()).ToString().ToLowerInvariant()}?",
            async form =>
            {
                EmailGuardListKind kind = ListsPage.ParseKind(form["kind"].ToString());
                EmailGuardPartyType type = PartyType(form["type"].ToString(), any: true);
                string value = form["value"].ToString();
                bool removed = await Lists(request).RemoveAsync(kind, type, value, request.Context.RequestAborted).ConfigureAwait(false);
                return (ListsPage.Back(request, kind, type), removed ? $"Removed {type} {Quote(value)}." : $"{type} {Quote(value)} was not on the list.");
            });

    public static Task ApplyFlagAsync(DashboardRequest request)
        => RunAsync(
            request,
            MaxFieldLength,
            destructive: form => Suspends(request, form["reason"].ToString()) ? $"Suspend {form["type"]} {form["id"]}? Its new mail is refused and its queued mail fails at dequeue." : null,
            async form =>
            {
                EmailGuardPartyType type = PartyType(form["type"].ToString(), any: false);
                TimeSpan? duration = int.TryParse(form["hours"], NumberStyles.None, CultureInfo.InvariantCulture, out int hours) && hours is > 0 and <= 8_760 ? TimeSpan.FromHours(hours) : null;
                EmailGuardFlag flag = await Flags(request).FlagAsync(type, form["id"].ToString(), form["reason"].ToString(), duration, flaggedBy: request.Operator, cancellationToken: request.Context.RequestAborted).ConfigureAwait(false);
                return (request.Url("/flags"), $"{(flag.Suspend ? "Suspended" : "Flagged")} {flag.PartyType} {flag.PartyId} ({flag.Reason}) until {flag.ExpiresAt:u}.");
            });

    public static Task ClearFlagAsync(DashboardRequest request)
        => RunAsync(
            request,
            MaxStoredFieldLength,
            destructive: form => $"Clear the {Quote(form["reason"])} flag of {form["type"]} {Quote(form["id"])}? Its normal limits apply again at once.",
            async form =>
            {
                EmailGuardPartyType type = PartyType(form["type"].ToString(), any: false);
                string reason = form["reason"].ToString();
                int cleared = await Flags(request).ClearAsync(type, form["id"].ToString(), flagReason: reason.Length == 0 ? null : reason, comment: "cleared from the dashboard", clearedBy: request.Operator, cancellationToken: request.Context.RequestAborted).ConfigureAwait(false);
                return (request.Url("/flags"), $"Cleared {cleared} flag(s) of {type} {Quote(form["id"])}.");
            });

    private static async Task RunAsync(DashboardRequest request, int maxFieldLength, Func<IFormCollection, string?> destructive, Func<IFormCollection, Task<(string Back, string Message)>> act)
    {
        HttpContext context = request.Context;
        if (!request.CanAct)
        {
            // The endpoint requires the actions policy already; this holds should the app's pipeline skip authorization.
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        IAntiforgery antiforgery = context.RequestServices.GetRequiredService<IAntiforgery>();
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context).ConfigureAwait(false))
        {
            Html refused = new();
            refused.Raw("<p class=\"notice bad\" id=\"antiforgery-refused\">This form was not sent from the dashboard, or it expired. Reload the page and try again.</p>");
            await DashboardLayout.WriteAsync(request, "-", "Refused", refused, StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);

        // A value no form of the dashboard writes is refused before it is echoed: the confirmation page, the question and
        // the notice would carry it, HTML-encoded (up to ten times its length), for as long as the server takes a form.
        string? tooLong = Array.Find(ActionFields, name => form[name].ToString().Length > maxFieldLength);
        if (tooLong is null && destructive(form) is { } question && form["confirmed"] != "yes")
        {
            Html confirm = new();
            confirm.Raw("<div class=\"card\" id=\"confirm\"><p>").Text(question).Raw("</p>");

            // The form carries a fresh token and the fields the action reads; not the posted token (under whatever name
            // the app gave the field: beside the new one it would be refused), nor anything else that was posted.
            request.Form(confirm, context.Request.Path.Value![request.Mount.Prefix.Value!.Length..]);
            foreach (string name in ActionFields)
            {
                if (form.TryGetValue(name, out Microsoft.Extensions.Primitives.StringValues value))
                {
                    confirm.Hidden(name, value.ToString());
                }
            }

            confirm.Hidden("confirmed", "yes").Raw("<button type=\"submit\" class=\"danger\" id=\"confirm-button\">Yes, do it</button> <a id=\"cancel\"")
                .Attr("href", CancelTo(request, context.Request.Headers.Referer.FirstOrDefault()))
                .Raw(">Cancel</a></form></div>");
            await DashboardLayout.WriteAsync(request, "-", "Confirm", confirm).ConfigureAwait(false);
            return;
        }

        string location;
        if (tooLong is not null)
        {
            location = NotDone(request, string.Create(CultureInfo.InvariantCulture, $"the {tooLong} is longer than {maxFieldLength:N0} characters."));
        }
        else
        {
            try
            {
                (string back, string message) = await act(form).ConfigureAwait(false);
                location = back + (back.Contains('?', StringComparison.Ordinal) ? '&' : '?') + "msg=" + Uri.EscapeDataString(request.ProtectNotice(message));
            }
            catch (Exception ex) when (ex is ArgumentException or EmailGuardStoreUnavailableException)
            {
                location = NotDone(request, ex.Message);
            }
        }

        DashboardLayout.SetHeaders(context.Response, request.Nonce);
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = location;
    }

    /// <summary>A value as a question or notice quotes it: at most <see cref="MaxFieldLength"/> characters, so neither grows with it.</summary>
    private static string Quote(Microsoft.Extensions.Primitives.StringValues values)
    {
        string value = values.ToString();
        return value.Length <= MaxFieldLength ? value : string.Concat(value.AsSpan(0, MaxFieldLength), "…");
    }

    /// <summary>The page an action that was not done goes back to, with why.</summary>
    private static string NotDone(DashboardRequest request, string why)
        => request.Url(request.Context.Request.Path.Value!.Contains("/lists/", StringComparison.Ordinal) ? "/lists" : "/flags", ("err", request.ProtectNotice($"Not done: {why}")));

    /// <summary>
    /// Where Cancel goes: the dashboard page the form was on, when the Referer names one, else the overview. Only a path
    /// under the dashboard: the Referer's host being ours is not enough, since a path of <c>//other.example/…</c> (or
    /// <c>/\other.example/…</c>, which URL parsers read alike) is a link to another site.
    /// </summary>
    private static string CancelTo(DashboardRequest request, string? referer)
    {
        string overview = request.Url("/");
        if (referer is null || !Uri.TryCreate(referer, UriKind.Absolute, out Uri? back) || back.Host != request.Context.Request.Host.Host)
        {
            return overview;
        }

        string path = back.AbsolutePath;
        bool underDashboard = path.Equals(request.Base, StringComparison.OrdinalIgnoreCase) || path.StartsWith(request.Base + "/", StringComparison.OrdinalIgnoreCase);
        return underDashboard && !path.StartsWith("//", StringComparison.Ordinal) && !path.Contains('\\', StringComparison.Ordinal) ? back.PathAndQuery : overview;
    }

    private static bool Suspends(DashboardRequest request, string reason)
    {
        SendGuardOptions? options = request.Services.GetService<IOptions<SendGuardOptions>>()?.Value;
        return options is null || (options.FlagPolicies.TryGetValue(reason, out FlagPolicy? policy) ? policy.Suspend : options.DefaultFlagPolicy.Suspend);
    }

    private static EmailGuardPartyType PartyType(string value, bool any)
        => Enum.TryParse(value, ignoreCase: true, out EmailGuardPartyType type) && Enum.IsDefined(type) && (any || type is EmailGuardPartyType.User or EmailGuardPartyType.Tenant)
            ? type
            : throw new ArgumentException($"'{LogValue.Of(value)}' is not a party type here.");

    private static IEmailGuardLists Lists(DashboardRequest request)
        => request.Services.GetService<IEmailGuardLists>() ?? throw new ArgumentException("Lists are not registered (AddSendGuard()).");

    private static IEmailGuardFlags Flags(DashboardRequest request)
        => request.Services.GetService<IEmailGuardFlags>() ?? throw new ArgumentException("Flags are not registered (AddSendGuard()).");
}
