using System.Text;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// Every <c>appsettings.json</c> example in the docs that holds an <c>EmailGuard</c> section binds and validates as
/// the library reads it, so a copied example never stops an app (or, worse, binds to nothing).
/// </summary>
public sealed class DocsConfigurationTests
{
    [Theory]
    [MemberData(nameof(DocsTests.MarkdownFiles), MemberType = typeof(DocsTests))]
    public void JsonBlocksWithAnEmailGuardSection_PassStartupValidation(string file)
    {
        foreach (MarkdownBlock block in MarkdownBlock.Read(Path.Combine(RepositoryRoot.Path, file), file)
            .Where(b => b.Language == "json" && b.Code.Contains("\"EmailGuard\"", StringComparison.Ordinal)))
        {
            using MemoryStream json = new(Encoding.UTF8.GetBytes(block.Code));
            ServiceCollection services = new();
            services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddJsonStream(json).Build());
            services.AddEmailGuard().AddSendGuard().AddEndpointPolicies().AddFeedbackWebhooks().AddAlerts();
            using ServiceProvider provider = services.BuildServiceProvider();

            Action start = () =>
            {
                provider.GetRequiredService<IStartupValidator>().Validate();
                _ = provider.GetRequiredService<IOptions<EmailGuardEndpointOptions>>().Value;
                _ = provider.GetRequiredService<IOptions<EmailGuardWebhookOptions>>().Value;
            };

            start.Should().NotThrow(block.ToString());
        }
    }
}
