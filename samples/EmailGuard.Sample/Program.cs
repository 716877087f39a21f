using EmailGuard.Sample;
using EmailGuard.Sample.Accounts;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddRazorPages();
builder.Services.Configure<SampleOptions>(builder.Configuration.GetSection("Sample"));
builder.Services.Configure<MailOptions>(builder.Configuration.GetSection("Mail"));
builder.Services.Configure<SmtpOptions>(builder.Configuration.GetSection("Smtp"));

// EmailGuard: the in-memory store by default, so the sample runs on a fresh machine.
builder.Services.AddEmailGuard();

builder.Services.AddSingleton<SampleDatabase>();
builder.Services.AddSingleton<InterimGuard>();
builder.Services.AddSingleton<Outbox>();
builder.Services.AddSingleton<MailQueue>();
builder.Services.AddSingleton<SampleMailer>();
builder.Services.AddHostedService<MailQueueWorker>();
builder.Services.AddSingleton<IMailTransport>(sp =>
    string.IsNullOrEmpty(sp.GetRequiredService<IOptions<SmtpOptions>>().Value.Host)
        ? ActivatorUtilities.CreateInstance<PickupFolderTransport>(sp)
        : ActivatorUtilities.CreateInstance<SmtpMailTransport>(sp));

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error");
}

app.UseAntiforgery();
app.MapRazorPages();
app.MapAccountEndpoints();

app.Run();

/// <summary>Public so that tests can start the sample with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
