using Microsoft.Playwright;

namespace EmailGuard.Sample.Tests;

/// <summary>Collects a page's console errors and uncaught script errors, so a test can require there are none.</summary>
public sealed class ConsoleErrors
{
    private readonly List<string> _errors = [];

    public static ConsoleErrors Attach(IPage page)
    {
        ConsoleErrors errors = new();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors._errors)
                {
                    errors._errors.Add($"console: {message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors._errors)
            {
                errors._errors.Add($"page error: {error}");
            }
        };
        return errors;
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (_errors)
        {
            return [.. _errors];
        }
    }
}
