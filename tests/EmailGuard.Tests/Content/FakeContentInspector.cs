namespace EmailGuard.Tests.Content;

/// <summary>An inspector whose answer the test decides, and that records what it was asked and whether its token was cancelled.</summary>
internal sealed class FakeContentInspector(Func<EmailContentInspectionArguments, CancellationToken, ValueTask<EmailContentVerdict>> inspect) : IEmailContentInspector
{
    public List<EmailContentInspectionArguments> Calls { get; } = [];

    public CancellationToken LastToken { get; private set; }

    public static FakeContentInspector Answering(EmailContentVerdict verdict) => new((_, _) => new(verdict));

    /// <summary>Never answers, and ignores its token: the worst case for the time budget.</summary>
    public static FakeContentInspector Hanging() => new((_, _) => new(new TaskCompletionSource<EmailContentVerdict>().Task));

    /// <summary>Answers when its token is cancelled, by throwing as a well-behaved HTTP call would.</summary>
    public static FakeContentInspector HonouringCancellation() => new(async (_, ct) =>
    {
        await Task.Delay(Timeout.Infinite, ct);
        return EmailContentVerdict.Allow;
    });

    public ValueTask<EmailContentVerdict> InspectAsync(EmailContentInspectionArguments arguments, CancellationToken cancellationToken)
    {
        Calls.Add(arguments);
        LastToken = cancellationToken;
        return inspect(arguments, cancellationToken);
    }
}
