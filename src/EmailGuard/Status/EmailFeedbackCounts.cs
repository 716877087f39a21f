namespace EmailGuard;

/// <summary>
/// What providers reported, within the rolling <see cref="EmailFeedbackOptions.CountWindow"/>, about the mail one party
/// caused: a tenant, a user, a sender, a category, a client network, or all mail (<see cref="EmailGuardDimension.Global"/>).
/// </summary>
public sealed class EmailFeedbackCounts
{
    /// <summary>Gets the kind of party.</summary>
    public required EmailGuardDimension Dimension { get; init; }

    /// <summary>
    /// Gets the party: a tenant or user id, a normalized sender, a lower-case category, a client network in CIDR
    /// notation; <see langword="null"/> for <see cref="EmailGuardDimension.Global"/>.
    /// </summary>
    public string? Partition { get; init; }

    /// <summary>Gets the deliveries reported.</summary>
    public long Delivered { get; init; }

    /// <summary>
    /// Gets the permanent (hard) bounces reported, what providers count against the account, and the bounces that refused
    /// the message (<see cref="EmailFeedbackEvent.RejectedForMessage"/>) whatever their type.
    /// </summary>
    public long Bounces { get; init; }

    /// <summary>Gets the transient and undetermined bounces of the addresses reported.</summary>
    public long TransientBounces { get; init; }

    /// <summary>Gets the complaints reported.</summary>
    public long Complaints { get; init; }

    /// <summary>Gets the unsubscribes reported.</summary>
    public long Unsubscribes { get; init; }

    /// <summary>
    /// Gets the sends the guard admitted for the party (counted at admission, on every instance): one per distinct
    /// recipient of each admitted message, as bounces and complaints are counted per recipient; less the mail the
    /// provider reported it never sent (<see cref="EmailFeedbackEvent.SuppressedByProvider"/>) when the guard's own record
    /// names the party (the message-id mapping, or signed tags), never below <see cref="Bounces"/> or <see cref="Complaints"/>.
    /// </summary>
    public long Sends { get; init; }

    /// <summary>
    /// Gets the hard-bounce ratio: <see cref="Bounces"/> over <see cref="Sends"/> (or over the bounces, when feedback
    /// arrived for more mail than was counted, as after a restart of the in-memory store); 0 without sends.
    /// </summary>
    public double BounceRate => Ratio(Bounces);

    /// <summary>Gets the complaint ratio: <see cref="Complaints"/> over <see cref="Sends"/>, bounded the same way; 0 without sends.</summary>
    public double ComplaintRate => Ratio(Complaints);

    /// <summary>
    /// Gets the volume horizon the <c>LastSends</c> counts cover: <see cref="EmailFeedbackOptions.CountLastSends"/>, or 0
    /// when only the time window is counted.
    /// </summary>
    public long LastSendsHorizon { get; init; }

    /// <summary>
    /// Gets the party's latest sends the volume horizon covers: at least <see cref="LastSendsHorizon"/> (up to a tenth
    /// more) once the party sent that many within <see cref="EmailFeedbackOptions.CountLastSendsWithin"/>, fewer before.
    /// Unlike <see cref="Sends"/>, mail the provider reported it never sent is not left out here: its report would be
    /// taken off the bucket of the report's time, not of the mail's send.
    /// </summary>
    public long LastSends { get; init; }

    /// <summary>Gets the hard bounces reported while the party sent its <see cref="LastSends"/>.</summary>
    public long LastSendsBounces { get; init; }

    /// <summary>Gets the complaints reported while the party sent its <see cref="LastSends"/>.</summary>
    public long LastSendsComplaints { get; init; }

    /// <summary>Gets the hard-bounce ratio over the volume horizon: <see cref="LastSendsBounces"/> over <see cref="LastSends"/>; 0 without sends.</summary>
    public double LastSendsBounceRate => LastSendsRatio(LastSendsBounces);

    /// <summary>Gets the complaint ratio over the volume horizon: <see cref="LastSendsComplaints"/> over <see cref="LastSends"/>; 0 without sends.</summary>
    public double LastSendsComplaintRate => LastSendsRatio(LastSendsComplaints);

    /// <summary>Gets the rolling window the counts cover.</summary>
    public required TimeSpan Window { get; init; }

    /// <summary>Gets the store's clock when it read the counts.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    private double LastSendsRatio(long events)
    {
        long volume = Math.Max(LastSends, events);
        return volume == 0 ? 0 : (double)events / volume;
    }

    private double Ratio(long events)
    {
        long volume = Math.Max(Sends, Math.Max(Delivered + Bounces, events));
        return volume == 0 ? 0 : (double)events / volume;
    }
}
