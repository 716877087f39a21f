namespace EmailGuard.Dashboard;

/// <summary>An alert that passed the gate, with what was suppressed of its condition since the last one went out.</summary>
internal sealed record QueuedAlert(Guid Id, EmailGuardAlert Alert, DateTimeOffset At, int Suppressed, DateTimeOffset? SuppressedSince);
