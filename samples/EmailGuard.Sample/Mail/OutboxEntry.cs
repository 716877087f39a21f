namespace EmailGuard.Sample.Mail;

/// <summary>One line of the dev outbox: a mail the guard admitted, and what became of it.</summary>
public sealed record OutboxEntry(
    Guid Id,
    DateTimeOffset CreatedAt,
    string Category,
    string To,
    string Subject,
    string? TenantId,
    OutboxStatus Status,
    string? Detail);
