namespace EmailGuard.Sample.Mail;

/// <summary>The SMTP server (section <c>Smtp</c>); mail goes over SMTP only when <see cref="Host"/> is set.</summary>
public sealed class SmtpOptions
{
    public string? Host { get; set; }

    public int Port { get; set; } = 25;

    public string? UserName { get; set; }

    public string? Password { get; set; }
}
