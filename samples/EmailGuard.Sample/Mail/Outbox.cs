namespace EmailGuard.Sample.Mail;

/// <summary>
/// The record of every mail the app has let through, for the dev outbox page. Kept in memory: the pickup folder (or
/// the SMTP server) holds the mails themselves.
/// </summary>
public sealed class Outbox(TimeProvider timeProvider)
{
    private readonly Lock _lock = new();
    private readonly List<OutboxEntry> _entries = [];

    public OutboxEntry Add(OutgoingMail mail, OutboxStatus status, string? detail = null)
    {
        ArgumentNullException.ThrowIfNull(mail);
        OutboxEntry entry = new(mail.Id, timeProvider.GetUtcNow(), mail.Category, mail.To, mail.Subject, mail.TenantId, status, detail);
        lock (_lock)
        {
            _entries.Add(entry);
        }

        return entry;
    }

    public void Update(Guid id, OutboxStatus status, string? detail = null)
    {
        lock (_lock)
        {
            int index = _entries.FindIndex(e => e.Id == id);
            if (index >= 0)
            {
                _entries[index] = _entries[index] with { Status = status, Detail = detail };
            }
        }
    }

    /// <summary>Every entry, newest first.</summary>
    public IReadOnlyList<OutboxEntry> Snapshot()
    {
        lock (_lock)
        {
            return [.. Enumerable.Reverse(_entries)];
        }
    }
}
