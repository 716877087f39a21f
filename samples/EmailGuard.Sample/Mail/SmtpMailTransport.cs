using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Mail;

/// <summary>Sends over real SMTP with MailKit; used when <c>Smtp:Host</c> is configured.</summary>
internal sealed class SmtpMailTransport(IOptions<SmtpOptions> options) : IMailTransport
{
    private readonly SmtpOptions _options = options.Value;

    public string Description => $"SMTP {_options.Host}:{_options.Port}";

    public async Task DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        using MimeKit.MimeMessage message = MimeMessageFactory.Create(mail);
        using SmtpClient client = new();
        await client.ConnectAsync(_options.Host!, _options.Port, SecureSocketOptions.Auto, cancellationToken);
        if (!string.IsNullOrEmpty(_options.UserName))
        {
            await client.AuthenticateAsync(_options.UserName, _options.Password ?? string.Empty, cancellationToken);
        }

        await client.SendAsync(message, cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);
    }
}
