using System.Globalization;
using EmailGuard.Sample.Mail;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>With <c>Smtp:Host</c> set, the sample sends over real SMTP (MailKit) instead of the pickup folder.</summary>
public sealed class SmtpTransportTests
{
    [Fact]
    public async Task Signup_WithSmtpHostConfigured_SendsOverSmtpNotToThePickupFolder()
    {
        await using FakeSmtpServer smtp = new();
        await using SampleApp app = SampleApp.Start(new Dictionary<string, string?>
        {
            ["Smtp:Host"] = "127.0.0.1",
            ["Smtp:Port"] = smtp.Port.ToString(CultureInfo.InvariantCulture),
        });
        using SampleHttpClient client = new(app.BaseAddress);

        (await client.SubmitAsync("/signup", "/signup", ("email", "first@example.com"))).Dispose();
        await app.MailDrainedAsync();

        string message = smtp.Messages.Should().ContainSingle().Subject;
        message.Should().Contain("To: first@example.com").And.Contain("Subject: Confirm your EmailGuard sample account");
        OutboxEntry entry = app.Services.GetRequiredService<Outbox>().Snapshot().Should().ContainSingle().Subject;
        entry.Status.Should().Be(OutboxStatus.Sent);
        entry.Detail.Should().Be($"SMTP 127.0.0.1:{smtp.Port}");
        app.PickedUpMails().Should().BeEmpty();
    }
}
