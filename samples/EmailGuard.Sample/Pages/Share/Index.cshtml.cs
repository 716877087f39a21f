using System.Globalization;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Limits;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages.Share;

/// <summary>
/// A tenant shares a purchase order by email. In a real app the tenant comes from the signed-in user; here a cookie
/// set by the tenant dropdown stands in for it.
/// </summary>
public sealed class IndexModel(SampleDatabase database, SampleMailer mailer, IOptions<MailOptions> mail) : PageModel
{
    public const string TenantCookie = "sample-tenant";
    public const int MaxCopies = 50;

    public IReadOnlyList<Tenant> Tenants { get; private set; } = [];

    public Tenant? Current { get; private set; }

    public IReadOnlyList<PurchaseOrder> Orders { get; private set; } = [];

    public string? Result { get; private set; }

    public bool ResultIsError { get; private set; }

    public IActionResult OnGet(string? tenant)
    {
        if (tenant is not null && database.FindTenant(tenant) is not null)
        {
            Response.Cookies.Append(TenantCookie, tenant, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true });
            return RedirectToPage();
        }

        Load(Request.Cookies[TenantCookie]);
        return Page();
    }

    public const int MaxNoteLength = 2_000;

    public async Task<IActionResult> OnPostAsync(string? order, string? recipient, string? note, int copies = 1)
    {
        Load(Request.Cookies[TenantCookie]);
        Tenant tenant = Current!;
        PurchaseOrder? po = Orders.FirstOrDefault(o => o.Number == order);
        if (po is null || !DeliveryAddress.TryParse(recipient, out string? to))
        {
            Fail("Choose an order and enter a valid recipient address.");
            return Page();
        }

        copies = Math.Clamp(copies, 1, MaxCopies);
        note = string.IsNullOrWhiteSpace(note) ? null : note.Trim()[..Math.Min(note.Trim().Length, MaxNoteLength)];
        int queued = 0;
        GuardVerdict? refusal = null;
        for (int i = 0; i < copies; i++)
        {
            OutgoingMail share = new(
                "share",
                mail.Value.From,
                to,
                $"{tenant.Name} shared purchase order {po.Number}",
                string.Create(CultureInfo.InvariantCulture, $"{tenant.Name} shared purchase order {po.Number} from {po.Supplier}, total {po.Total:N2}.")
                    + (note is null ? string.Empty : $"\n\nNote from {tenant.Name}: {note}"))
            {
                TenantId = tenant.Id,
                // The sample has no sign-in for tenants: each tenant's owner stands in for the signed-in user.
                UserId = $"{tenant.Id}:owner",
                HasUserText = note is not null,
                ClientIp = HttpContext.Connection.RemoteIpAddress?.ToString(),
            };

            GuardVerdict verdict = await mailer.QueueAsync(share, HttpContext.RequestAborted);
            if (!verdict.Allowed)
            {
                refusal = verdict;
                break;
            }

            queued++;
        }

        if (refusal is null)
        {
            Result = $"Queued {queued} mail{(queued == 1 ? string.Empty : "s")} of {po.Number} to {to}.";
        }
        else
        {
            string when = refusal.RetryAfter > TimeSpan.Zero ? $" You may {FriendlyLimitPage.RetryPhrase(refusal.RetryAfter)}." : string.Empty;
            Fail($"Refused: {refusal.Reason}.{when} {queued} of {copies} queued.");
        }

        return Page();
    }

    private void Fail(string message)
    {
        Result = message;
        ResultIsError = true;
    }

    private void Load(string? tenantId)
    {
        Tenants = database.GetTenants();
        Current = Tenants.FirstOrDefault(t => t.Id == tenantId) ?? Tenants[0];
        Orders = PurchaseOrder.For(Current.Id);
    }
}
