using System.Globalization;

namespace EmailGuard.Tests.Content;

/// <summary>
/// Generated business mail for the fingerprint tests: templates filled in per recipient (names, order numbers,
/// amounts, dates, tracking links), and a few hundred genuinely different messages, each a distinct choice of subject
/// and sentences from a category's pool, so two of them are never one template.
/// </summary>
internal static class BusinessMailCorpus
{
    public static readonly string[] FirstNames =
        ["Anna", "Jonas", "Mei", "Olusegun", "Priya", "Carlos", "Élodie", "Sven", "Fatima", "Tomasz", "Grace", "Hiroshi", "Lena", "Mateo", "Noor", "Zoë"];

    public static readonly string[] LastNames = ["Smith", "Müller", "Okafor", "Nakamura", "García", "Kowalski", "Dubois", "Andersson", "Haddad", "O'Brien"];

    private static readonly (string Category, string[] Subjects, string[] Sentences)[] s_categories =
    [
        ("invoice",
            ["Invoice {n} from Northwind", "Your invoice is ready", "Payment reminder for invoice {n}", "Overdue balance on your account", "Receipt for your payment"],
            [
                "Please find attached the invoice for services rendered in the last billing period.",
                "The total amount due is {amount} and payment is expected within thirty days.",
                "You can pay by bank transfer using the reference printed on the invoice.",
                "Our records show that the balance has not yet been settled.",
                "If you have already paid, please disregard this reminder.",
                "Late payments may incur an additional administration fee.",
                "We have received your payment, thank you for your prompt settlement.",
                "The attached receipt can be used for your expense report.",
                "Questions about this invoice can be sent to our accounts team.",
                "We now accept card payments through the customer portal.",
            ]),
        ("shipping",
            ["Your order has shipped", "Delivery update for order {n}", "Your parcel is on its way", "We could not deliver your parcel", "Order {n} delivered"],
            [
                "Your order left our warehouse this morning and is with the courier.",
                "You can follow the parcel at https://track.example.com/p/{n}?utm_source=mail.",
                "The expected delivery date is {date}.",
                "The courier attempted delivery but nobody was available to sign.",
                "Your parcel is waiting at the nearest pickup point for seven days.",
                "Some items of your order will arrive in a separate shipment.",
                "Please check the contents and report any damage within two days.",
                "Returns are free within thirty days of delivery.",
                "The driver left the parcel with your neighbour.",
                "Delivery on weekends is available for a small surcharge.",
            ]),
        ("meeting",
            ["Meeting on {date}", "Agenda for our next call", "Rescheduling our workshop", "Notes from today's meeting", "Quarterly review invitation"],
            [
                "I would like to schedule a call to discuss the project timeline.",
                "The agenda covers the budget, the hiring plan and the launch checklist.",
                "Could we move the workshop to the following week?",
                "Attached are the notes and the action items we agreed on.",
                "Please confirm whether the proposed time works for your team.",
                "The meeting will take place in conference room B on the third floor.",
                "A video link will be shared an hour before the session.",
                "We will review the quarterly figures and the forecast for next year.",
                "Feel free to add topics to the shared agenda document.",
                "Lunch will be provided for everyone attending in person.",
            ]),
        ("account",
            ["Reset your password", "Confirm your email address", "New sign-in to your account", "Your account settings changed", "Welcome to Contoso"],
            [
                "Click the link below to choose a new password for your account.",
                "This link expires in {n} minutes for your security.",
                "If you did not request this change, you can ignore this message.",
                "We noticed a sign-in from a new device in Berlin.",
                "Please confirm your email address to activate your account.",
                "Your notification preferences were updated successfully.",
                "Two-factor authentication is now enabled on your account.",
                "Thanks for signing up, we are glad to have you on board.",
                "Our getting started guide walks you through the first steps.",
                "Contact support if you believe your account was compromised.",
            ]),
        ("purchase",
            ["Purchase order {n}", "Request for quotation", "Updated price list", "Order confirmation {n}", "Supplier onboarding"],
            [
                "Please find attached our purchase order for the items listed below.",
                "Kindly confirm the delivery date and the payment terms.",
                "We would like to request a quotation for five hundred units.",
                "The updated price list takes effect at the start of next month.",
                "Your order has been confirmed and is being prepared for dispatch.",
                "New suppliers must complete the onboarding questionnaire.",
                "Please send your bank details on company letterhead.",
                "The goods must be delivered to our central warehouse.",
                "All invoices must quote the purchase order number.",
                "Partial deliveries are accepted after prior agreement.",
            ]),
        ("support",
            ["Your support ticket {n}", "We have resolved your issue", "Update on your request", "How did we do?", "Scheduled maintenance"],
            [
                "Thank you for contacting support, a ticket has been opened for your request.",
                "Our engineers identified the cause and deployed a fix.",
                "We need a few more details to reproduce the problem.",
                "Could you send us a screenshot of the error message?",
                "Please rate your experience with our support team.",
                "The service will be unavailable for two hours on Sunday night.",
                "We apologise for the inconvenience this has caused.",
                "Your ticket will be closed automatically after seven days without reply.",
                "A workaround is described in our knowledge base.",
                "The issue affected a small number of customers in Europe.",
            ]),
        ("hr",
            ["Your interview invitation", "Offer letter", "Onboarding schedule", "Benefits enrolment", "Holiday request approved"],
            [
                "We are pleased to invite you to an interview for the analyst position.",
                "Please bring a valid identity document on your first day.",
                "Your onboarding starts with a tour of the office and an IT setup session.",
                "Enrolment in the pension plan closes at the end of the month.",
                "Your holiday request has been approved by your manager.",
                "The offer includes a signing bonus and a flexible working arrangement.",
                "Please sign and return the contract within one week.",
                "Your manager will meet you at reception at nine.",
                "Training on our security policies is mandatory for all staff.",
                "The health insurance provider will send your card by post.",
            ]),
        ("newsletter",
            ["This month at Fabrikam", "New features you might like", "Our spring sale starts now", "Event invitation", "Product update"],
            [
                "This month we launched dark mode and faster search.",
                "Our spring sale offers twenty percent off all accessories.",
                "Join us at the annual customer conference in Lisbon.",
                "We redesigned the dashboard based on your feedback.",
                "Read how a customer cut their costs in half with our platform.",
                "The mobile app now supports offline mode.",
                "Register early to secure a seat at the workshop.",
                "We are hiring engineers and designers in three cities.",
                "You can unsubscribe from these updates at any time.",
                "Follow us for tips and product news.",
            ]),
    ];

    /// <summary>Every category's subjects and sentences, for corpora built from the same pools.</summary>
    public static IReadOnlyList<(string Category, string[] Subjects, string[] Sentences)> Categories => s_categories;

    /// <summary>Fills in a text's numbers, amounts and dates.</summary>
    public static string FillIn(string text, Random random) => Fill(text, random);

    /// <summary>The purchase-order template of the incident, filled in for one recipient.</summary>
    public static EmailContent PurchaseOrder(string firstName, string lastName, int order, bool html = false, string? tracking = null)
    {
        string link = "https://orders.example.com/po/view" + (tracking is null ? string.Empty : "?t=" + tracking);
        string body = string.Create(CultureInfo.InvariantCulture, $"""
            Dear {firstName} {lastName},

            Please find purchase order PO-{order} for {order % 97 + 3} units attached, due on 2026-12-{order % 28 + 1:00}.
            Total: EUR {order * 13 % 10000},{order % 100:00}.
            URGENT: confirm your bank details at http://secure-vendor-check.example/verify before shipping.
            View the order: {link}

            Kind regards,
            Procurement team
            """);
        return html
            ? new EmailContent { Subject = $"Purchase order PO-{order}", HtmlBody = "<html><body><p>" + body.Replace("\n\n", "</p><p>", StringComparison.Ordinal).Replace("\n", "<br>", StringComparison.Ordinal) + "</p></body></html>" }
            : new EmailContent { Subject = $"Purchase order PO-{order}", TextBody = body };
    }

    /// <summary>
    /// <paramref name="count"/> genuinely different messages: each a distinct (category, subject, sentence set), with
    /// numbers, names and greetings filled in at random, so no two are one template.
    /// </summary>
    /// <param name="count">How many messages.</param>
    /// <param name="seed">Chooses the templates.</param>
    /// <param name="fillSeed">Chooses names, numbers, dates and greetings; the same <paramref name="seed"/> with another fill seed fills the same templates anew.</param>
    public static List<(string Template, EmailContent Content)> Distinct(int count, int seed = 17, int? fillSeed = null)
    {
        Random random = new(seed);
        Random fill = new(fillSeed ?? seed + 1);
        HashSet<string> seen = new(StringComparer.Ordinal);
        List<(string, EmailContent)> mails = [];
        while (mails.Count < count)
        {
            var (category, subjects, sentences) = s_categories[random.Next(s_categories.Length)];
            int subject = random.Next(subjects.Length);
            int[] chosen = [.. Enumerable.Range(0, sentences.Length).OrderBy(_ => random.Next()).Take(random.Next(2, 6)).Order()];
            string template = $"{category}:{subject}:{string.Join(',', chosen)}";
            if (!seen.Add(template))
            {
                continue;
            }

            string name = FirstNames[fill.Next(FirstNames.Length)];
            string greeting = fill.Next(3) switch { 0 => $"Hi {name},", 1 => $"Dear {name} {LastNames[fill.Next(LastNames.Length)]},", _ => "Hello," };
            string body = greeting + "\n\n" + string.Join(' ', chosen.Select(i => Fill(sentences[i], fill))) + "\n\nBest regards,\nThe team";
            mails.Add((template, new EmailContent { Subject = Fill(subjects[subject], fill), TextBody = body }));
        }

        return mails;
    }

    private static string Fill(string text, Random random) => text
        .Replace("{n}", random.Next(1000, 999_999).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{amount}", string.Create(CultureInfo.InvariantCulture, $"${random.Next(10, 9000)}.{random.Next(100):00}"), StringComparison.Ordinal)
        .Replace("{date}", new DateOnly(2026, 1, 1).AddDays(random.Next(365)).ToString("d MMMM yyyy", CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
