using MimeKit;

namespace EmailGuard.Sample.Mail;

internal static class MimeMessageFactory
{
    public static MimeMessage Create(OutgoingMail mail)
    {
        MimeMessage message = new();
        message.From.Add(MailboxAddress.Parse(mail.From));
        message.To.Add(MailboxAddress.Parse(mail.To));
        message.Subject = mail.Subject;
        message.MessageId = $"{mail.Id:N}@sample.emailguard.test";
        message.Headers.Add("X-EmailGuard-Category", mail.Category);
        if (mail.TenantId is not null)
        {
            message.Headers.Add("X-EmailGuard-Tenant", mail.TenantId);
        }

        message.Body = new TextPart("plain") { Text = mail.Body };
        return message;
    }
}
