using System.Globalization;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// The dashboard's POST actions. Each checks the anti-forgery token first; a destructive one (remove from a list,
/// clear a flag, suspend) answers with a confirmation page until the form comes back with <c>confirmed=yes</c>.
/// Then it acts and redirects (303) to the page it came from with a message.
/// </summary>
internal static partial class DashboardActions
{
    /// <summary>
    /// The longest value an action takes: more than any address (320), id or reason its forms let one type. The Remove
    /// and Clear forms carry back a text the store holds, which may be longer, by its digest (<see cref="StoredText"/>).
    /// </summary>
    internal const int MaxFieldLength = 1_000;

    /// <summary>The most list entries a Remove form that names its value by a digest has searched.</summary>
    internal const int MaxListEntriesSearched = 100 * EmailGuardListQuery.MaxTake;

    /// <summary>The fields the actions read; a confirmation page carries these on, and nothing else that was posted.</summary>
    private static readonly string[] ActionFields =
        ["kind", "type", "value", "value" + StoredText.DigestSuffix, "id", "id" + StoredText.DigestSuffix, "reason", "reason" + StoredText.DigestSuffix, "hours", "all"];

    public static Task AddToListAsync(DashboardRequest request)
        => RunAsync(request, destructive: _ => null, async form =>
        {
            EmailGuardListKind kind = ListsPage.ParseKind(form["kind"].ToString());
            EmailGuardPartyType type = PartyType(form["type"].ToString(), static _ => true);
            TimeSpan? duration = int.TryParse(form["hours"], NumberStyles.None, CultureInfo.InvariantCulture, out int hours) && hours is > 0 and <= 87_600 ? TimeSpan.FromHours(hours) : null;
            string reason = form["reason"].ToString();
            EmailGuardListEntry entry = await Lists(request).AddAsync(kind, type, form["value"].ToString(), string.IsNullOrWhiteSpace(reason) ? "manual" : reason, duration, request.Operator, request.Context.RequestAborted).ConfigureAwait(false);
            return (ListsPage.Back(request, kind, entry.PartyType), $"Added {entry.PartyType} {entry.Value} to the {kind.ToString().ToLowerInvariant()}.");
        });

    public static Task RemoveFromListAsync(DashboardRequest request)
        => RunAsync(
            request,
            destructive: form => $"Remove {form["type"]} {Shown(form, "value")} from the {ListsPage.ParseKind(form["kind"].ToString()).ToString().ToLowerInvariant()}?",
            async form =>
            {
                EmailGuardListKind kind = ListsPage.ParseKind(form["kind"].ToString());
                EmailGuardPartyType type = PartyType(form["type"].ToString(), static _ => true);
                IEmailGuardLists lists = Lists(request);
                CancellationToken cancellationToken = request.Context.RequestAborted;
                string? value = StoredText.DigestIn(form, "value") is { } digest
                    ? await FindListValueAsync(lists, kind, type, form["value"].ToString(), digest, cancellationToken).ConfigureAwait(false)
                    : form["value"].ToString();
                bool removed = value is not null && await lists.RemoveAsync(kind, type, value, cancellationToken).ConfigureAwait(false);
                if (removed)
                {
                    // The lists record who added an entry, on it; once removed, only this says who removed it.
                    ILogger logger = Logger(request);
                    string removedBy = LogValue.Of(request.Operator);
                    LogRemoved(logger, removedBy, type, kind);
                }

                return (ListsPage.Back(request, kind, type), removed ? $"Removed {type} {Shown(form, "value")}." : $"{type} {Shown(form, "value")} was not on the list.");
            });

    public static Task ApplyFlagAsync(DashboardRequest request)
        => RunAsync(
            request,
            destructive: form => Suspends(request, form["reason"].ToString()) ? $"Suspend {form["type"]} {form["id"]}? Its new mail is refused and its queued mail fails at dequeue." : null,
            async form =>
            {
                EmailGuardPartyType type = PartyType(form["type"].ToString(), static t => t is EmailGuardPartyType.User or EmailGuardPartyType.Tenant);
                TimeSpan? duration = int.TryParse(form["hours"], NumberStyles.None, CultureInfo.InvariantCulture, out int hours) && hours is > 0 and <= 8_760 ? TimeSpan.FromHours(hours) : null;
                EmailGuardFlag flag = await Flags(request).FlagAsync(type, form["id"].ToString(), form["reason"].ToString(), duration, flaggedBy: request.Operator, cancellationToken: request.Context.RequestAborted).ConfigureAwait(false);
                return (request.Url("/flags"), $"{(flag.Suspend ? "Suspended" : "Flagged")} {flag.PartyType} {flag.PartyId} ({flag.Reason}) until {flag.ExpiresAt:u}.");
            });

    public static Task ClearFlagAsync(DashboardRequest request)
        => RunAsync(
            request,
            destructive: form => $"Clear the {Shown(form, "reason")} flag of {form["type"]} {Shown(form, "id")}? Its normal limits apply again at once.",
            async form =>
            {
                // A category's and a tenant pool's flag too: the account's ratio breaker raises one on each risky
                // category, a pool's breaker one on the pool, and the flags page lists them with a Clear button like any other.
                EmailGuardPartyType type = PartyType(
                    form["type"].ToString(), static t => t is EmailGuardPartyType.User or EmailGuardPartyType.Tenant or EmailGuardPartyType.Category or EmailGuardPartyType.TenantPool);
                IEmailGuardFlags flags = Flags(request);
                CancellationToken cancellationToken = request.Context.RequestAborted;
                string? id = StoredText.DigestIn(form, "id") is { } idDigest
                    ? await FindFlaggedPartyAsync(flags, type, form["id"].ToString(), idDigest, cancellationToken).ConfigureAwait(false)
                    : form["id"].ToString();
                int cleared = 0;
                if (id is not null && await FindFlagReasonAsync(flags, type, id, form, cancellationToken).ConfigureAwait(false) is (true, var reason))
                {
                    cleared = await flags.ClearAsync(type, id, reason, comment: "cleared from the dashboard", clearedBy: request.Operator, cancellationToken: cancellationToken).ConfigureAwait(false);
                }

                return (request.Url("/flags"), $"Cleared {cleared} flag(s) of {type} {Shown(form, "id")}.");
            });

    /// <summary>
    /// Applies a tenant's new limits now (<see cref="IEmailGuardTenantLimits"/>): after an operator changed a plan in the
    /// app's database, every instance asks the tenant limit provider again at the tenant's next check, instead of when
    /// its cached answer expires. Every tenant at once asks to confirm: each one's next check then waits for the provider.
    /// </summary>
    public static Task ReloadTenantLimitsAsync(DashboardRequest request)
        => RunAsync(
            request,
            destructive: form => form["all"] == "yes" ? "Look every tenant's limits up again? Each tenant's next check, on every instance, waits for your tenant limit provider." : null,
            async form =>
            {
                IEmailGuardTenantLimits limits = request.Services.GetService<IEmailGuardTenantLimits>()
                    ?? throw new ArgumentException("the send guard is not registered, so there are no tenant limits to look up again.");
                CancellationToken cancellationToken = request.Context.RequestAborted;
                if (form["all"] == "yes")
                {
                    await limits.InvalidateAllAsync(cancellationToken).ConfigureAwait(false);
                    return (request.Url("/flags"), "Every tenant's limits are looked up again at its next check, on every instance within the state refresh interval.");
                }

                // An id of spaces names no tenant any more than an empty one does (the flags refuse it as a party id),
                // so it has the same answer, not a notice that "tenant    's limits" are looked up again.
                string id = form["id"].ToString();
                if (string.IsNullOrWhiteSpace(id))
                {
                    throw new ArgumentException("name a tenant, or tick every tenant.");
                }

                await limits.InvalidateAsync(id, cancellationToken).ConfigureAwait(false);
                return (request.Url("/flags"), $"Tenant {id}'s limits are looked up again at its next check, on every instance within the state refresh interval.");
            });

    private static async Task RunAsync(DashboardRequest request, Func<IFormCollection, string?> destructive, Func<IFormCollection, Task<(string Back, string Message)>> act)
    {
        HttpContext context = request.Context;
        if (!request.CanAct)
        {
            // The endpoint requires the actions policy already; this holds should the app's pipeline skip authorization.
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        if (!await IsFromTheDashboardAsync(context).ConfigureAwait(false))
        {
            Html refused = new();
            refused.Raw("<p class=\"notice bad\" id=\"antiforgery-refused\">This form was not sent from the dashboard, or it expired. Reload the page and try again.</p>");
            await DashboardLayout.WriteAsync(request, "-", "Refused", refused, StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);

        // A value no form of the dashboard writes is refused before it is echoed: the confirmation page, the question and
        // the notice would carry it, HTML-encoded (up to ten times its length), for as long as the server takes a form.
        string? tooLong = Array.Find(ActionFields, name => form[name].ToString().Length > MaxFieldLength);
        if (tooLong is null && destructive(form) is { } question && form["confirmed"] != "yes")
        {
            Html confirm = new();
            confirm.Raw("<div class=\"card\" id=\"confirm\"><p>").Text(question).Raw("</p>");

            // The form carries a fresh token and the fields the action reads; not the posted token (under whatever name
            // the app gave the field: beside the new one it would be refused), nor anything else that was posted.
            request.Form(confirm, request.Route);
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
            location = NotDone(request, string.Create(CultureInfo.InvariantCulture, $"the {tooLong} is longer than {MaxFieldLength:N0} characters."));
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

    /// <summary>
    /// Whether the post is a form with a valid anti-forgery token. A form the form reader refuses (a NUL in a field, more
    /// fields than it takes) is not: the check, which reads the form first, threw that as an
    /// <see cref="AntiforgeryValidationException"/>, a 500 for a post another site's page can make the operator's browser send.
    /// </summary>
    private static async Task<bool> IsFromTheDashboardAsync(HttpContext context)
    {
        try
        {
            return context.Request.HasFormContentType
                   && await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context).ConfigureAwait(false);
        }
        catch (AntiforgeryValidationException)
        {
            return false;
        }
    }

    /// <summary>A value as a question or notice quotes it: at most <see cref="MaxFieldLength"/> characters, so neither grows with it.</summary>
    private static string Quote(Microsoft.Extensions.Primitives.StringValues values)
    {
        string value = values.ToString();
        return value.Length <= MaxFieldLength ? value : string.Concat(value.AsSpan(0, MaxFieldLength), "…");
    }

    /// <summary>
    /// A text a Remove or Clear form carries as a question or notice quotes it: its beginning and an ellipsis when the form
    /// names it by its digest.
    /// </summary>
    private static string Shown(IFormCollection form, string name) => Quote(form[name]) + (StoredText.DigestIn(form, name) is null ? string.Empty : "…");

    /// <summary>
    /// The stored value of the entry a form names by its <paramref name="digest"/>, or <see langword="null"/> when there
    /// is none (removed or changed since the page was shown). Only entries that contain the value's
    /// <paramref name="beginning"/> are read; expired ones the store still keeps too, since the page may have shown one
    /// just before it expired. A value with no plain beginning (a tenant or user id that starts with a control character)
    /// is looked for among the first <see cref="MaxListEntriesSearched"/> entries of its party type, so that a form
    /// naming one does not read a list of a million suppressed addresses a thousand times.
    /// </summary>
    private static async Task<string?> FindListValueAsync(
        IEmailGuardLists lists, EmailGuardListKind kind, EmailGuardPartyType type, string beginning, string digest, CancellationToken cancellationToken)
    {
        for (int skip = 0; skip < MaxListEntriesSearched; skip += EmailGuardListQuery.MaxTake)
        {
            EmailGuardListPage page = await lists.ListAsync(
                new EmailGuardListQuery
                {
                    Kind = kind,
                    PartyType = type,
                    Search = beginning.Length == 0 ? null : beginning,
                    IncludeExpired = true,
                    OrderBy = EmailGuardListOrder.Value,
                    Skip = skip,
                    Take = EmailGuardListQuery.MaxTake,
                },
                cancellationToken).ConfigureAwait(false);
            if (page.Items.FirstOrDefault(e => e.Value.StartsWith(beginning, StringComparison.Ordinal) && StoredText.Is(e.Value, digest)) is { } entry)
            {
                return entry.Value;
            }

            if (page.Items.Count < EmailGuardListQuery.MaxTake || skip + EmailGuardListQuery.MaxTake >= page.TotalCount)
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>
    /// The id of the party a form names by its <paramref name="digest"/>, among those with a recorded flag event (where
    /// the flags page finds the parties it lists), or <see langword="null"/> when none has it.
    /// </summary>
    private static async Task<string?> FindFlaggedPartyAsync(
        IEmailGuardFlags flags, EmailGuardPartyType type, string beginning, string digest, CancellationToken cancellationToken)
    {
        IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(
            new EmailGuardFlagEventQuery { PartyType = type, Take = IEmailGuardStateStore.MaxFlagEvents }, cancellationToken).ConfigureAwait(false);
        return events.Select(e => e.PartyId)
            .Where(id => id.StartsWith(beginning, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .FirstOrDefault(id => StoredText.Is(id, digest));
    }

    /// <summary>
    /// Which of the party's flags a Clear form names: the flag of the reason the page showed, whatever it holds now (flagged
    /// again with that reason, it is the same flag), or none (<c>Found</c> false) when the form names the reason by a
    /// digest that no active flag of the party has (cleared or expired since the page was shown). An empty reason, which
    /// no form writes, names every flag of the party (<see langword="null"/>), as a clear of no reason does.
    /// </summary>
    private static async Task<(bool Found, string? Reason)> FindFlagReasonAsync(
        IEmailGuardFlags flags, EmailGuardPartyType type, string id, IFormCollection form, CancellationToken cancellationToken)
    {
        string reason = form["reason"].ToString();
        if (StoredText.DigestIn(form, "reason") is not { } digest)
        {
            return (true, reason.Length == 0 ? null : reason);
        }

        IReadOnlyList<EmailGuardFlag> active = await flags.GetActiveFlagsAsync(type, id, cancellationToken).ConfigureAwait(false);
        return active.FirstOrDefault(f => f.Reason.StartsWith(reason, StringComparison.Ordinal) && StoredText.Is(f.Reason, digest)) is { } flag
            ? (true, flag.Reason)
            : (false, null);
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

    private static EmailGuardPartyType PartyType(string value, Func<EmailGuardPartyType, bool> allowed)
        => FormEnum.TryParse(value, out EmailGuardPartyType type) && allowed(type)
            ? type
            : throw new ArgumentException($"'{LogValue.Of(value)}' is not a party type here.");

    private static ILogger Logger(DashboardRequest request)
        => request.Services.GetService<ILoggerFactory>()?.CreateLogger(typeof(DashboardActions).FullName!) ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    [LoggerMessage(EventId = 3120, EventName = "DashboardListEntryRemoved", Level = LogLevel.Information,
        Message = "The dashboard's user {Operator} removed an entry for a {PartyType} from the {Kind}.")]
    private static partial void LogRemoved(ILogger logger, string @operator, EmailGuardPartyType partyType, EmailGuardListKind kind);

    private static IEmailGuardLists Lists(DashboardRequest request)
        => request.Services.GetService<IEmailGuardLists>() ?? throw new ArgumentException("Lists are not registered (AddSendGuard()).");

    private static IEmailGuardFlags Flags(DashboardRequest request)
        => request.Services.GetService<IEmailGuardFlags>() ?? throw new ArgumentException("Flags are not registered (AddSendGuard()).");
}
