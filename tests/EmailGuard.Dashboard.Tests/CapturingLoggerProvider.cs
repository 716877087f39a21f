using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>Every message and scope logged in the host, from every category, at every level the host's filters let through.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Messages { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            // Scopes too: the HTTP client factory's logical handler opens one named by the request's URL.
            provider.Messages.Enqueue($"{category} scope: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => provider.Messages.Enqueue($"{category}: {formatter(state, exception)} {exception}");
    }
}
