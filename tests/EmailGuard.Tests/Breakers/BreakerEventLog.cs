namespace EmailGuard.Tests.Breakers;

/// <summary>The ratio breakers' trips and recoveries as a test's breakers report them (<see cref="Hook"/>), in order.</summary>
internal sealed class BreakerEventLog
{
    public List<EmailRatioBreakerArguments> Trips { get; } = [];

    public List<EmailRatioBreakerRecoveredArguments> Recoveries { get; } = [];

    /// <summary>Sets <paramref name="options"/>' trip and recovery callbacks to record here.</summary>
    public void Hook(EmailRatioBreakerOptions options)
    {
        options.OnTripped = args =>
        {
            Trips.Add(args);
            return ValueTask.CompletedTask;
        };
        options.OnRecovered = args =>
        {
            Recoveries.Add(args);
            return ValueTask.CompletedTask;
        };
    }
}
