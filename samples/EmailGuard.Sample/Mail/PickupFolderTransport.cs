using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Mail;

/// <summary>Writes each mail as an .eml file, so the sample runs with no mail server and nothing leaves the machine.</summary>
internal sealed class PickupFolderTransport : IMailTransport
{
    private readonly string _directory;

    public PickupFolderTransport(IOptions<MailOptions> options, IWebHostEnvironment environment)
    {
        _directory = Path.GetFullPath(options.Value.PickupDirectory, environment.ContentRootPath);
        Directory.CreateDirectory(_directory);
    }

    public string Description => $"pickup folder {_directory}";

    public async Task DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        string path = Path.Combine(_directory, $"{mail.Id:N}.eml");
        using MimeKit.MimeMessage message = MimeMessageFactory.Create(mail);
        await message.WriteToAsync(path, cancellationToken);
    }
}
