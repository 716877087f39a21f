namespace EmailGuard.Sample.Mail;

/// <summary>Where mail goes: the pickup folder by default, an SMTP server when <see cref="SmtpHost"/> is set.</summary>
public sealed class MailOptions
{
    /// <summary>The From address of every mail the sample sends.</summary>
    public string From { get; set; } = "no-reply@sample.emailguard.test";

    /// <summary>The folder .eml files are written to when no SMTP host is configured; relative to the content root.</summary>
    public string PickupDirectory { get; set; } = "outbox";
}
