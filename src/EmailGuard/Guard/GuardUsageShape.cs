namespace EmailGuard;

/// <summary>
/// What one check asked of the store: the requests and the dimension and party each stands for. Immutable, so the
/// decisions of every check with the same plan on a thread share one (<see cref="GuardBuffers.Shape"/>) and a decision
/// keeps only what the store answered.
/// </summary>
/// <remarks>
/// For a message to one recipient the recipient's and its domain's requests are templates (dimension, rule, cost)
/// that the decision's recipient fills in, so messages from the same party to different recipients share a shape too.
/// A shape is only ever used after comparing it with the requests the check actually sent, so what a decision shows
/// is what was asked.
/// </remarks>
internal sealed class GuardUsageShape
{
    private readonly RequestTag[] _tags;
    private readonly RateLimitRequest[] _requests;

    private GuardUsageShape(RequestTag[] tags, RateLimitRequest[] requests, int fixedCount)
    {
        _tags = tags;
        _requests = requests;
        Fixed = fixedCount;
        int visible = 0;
        foreach (RequestTag tag in tags)
        {
            visible += tag.OwnCopiesOf == EmailGuardDimension.None ? 1 : 0;
        }

        Visible = visible;
    }

    public int Length => _requests.Length;

    /// <summary>Gets how many requests a decision's public usage shows: all but the counters of a party's own copies of a text.</summary>
    public int Visible { get; }

    /// <summary>Gets how many leading requests are kept as they were; the rest are templates for the recipient.</summary>
    public int Fixed { get; }

    /// <summary>
    /// The shape of the check in <paramref name="buffers"/>: the one the thread kept when it is the same, else a copy
    /// kept from now on. <paramref name="recipient"/> is what fills the templates, null when there are none.
    /// </summary>
    public static GuardUsageShape Of(GuardBuffers buffers, out GuardAddress? recipient)
    {
        int count = buffers.RequestCount;
        RequestTag[] tags = buffers.Tags;
        RateLimitRequest[] requests = buffers.Requests;
        recipient = buffers.RecipientCount == 1 ? buffers.Recipients[0] : null;
        int fixedCount = recipient is null ? count : FirstRecipientRequest(tags, count);
        if (fixedCount == count || !FitsTemplates(tags, requests, fixedCount, count, recipient!))
        {
            recipient = null;
            fixedCount = count;
        }

        if (buffers.Shape is { } kept && kept.Matches(tags, requests, count, fixedCount))
        {
            return kept;
        }

        GuardUsageShape shape = new(tags.AsSpan(0, count).ToArray(), requests.AsSpan(0, count).ToArray(), fixedCount);
        buffers.Shape = shape;
        return shape;
    }

    public RequestTag GetTag(int index, GuardAddress? recipient)
    {
        RequestTag tag = _tags[index];
        return index < Fixed
            ? tag
            : new RequestTag(tag.Dimension, tag.Dimension == EmailGuardDimension.Recipient ? recipient!.Address : recipient!.DomainPartition, recipient.Address);
    }

    public RateLimitRequest GetRequest(int index, GuardAddress? recipient)
    {
        RateLimitRequest request = _requests[index];
        return index < Fixed
            ? request
            : new RateLimitRequest(_tags[index].Dimension == EmailGuardDimension.Recipient ? recipient!.RecipientKey : recipient!.DomainKey, request.Rule, request.Cost);
    }

    public EmailGuardDimension GetDimension(int index) => _tags[index].Dimension;

    /// <summary>Whether the request counts a party's own copies of a content key (<see cref="RequestTag.OwnCopiesOf"/>), which the public usage leaves out.</summary>
    public bool IsOwnCopies(int index) => _tags[index].OwnCopiesOf != EmailGuardDimension.None;

    public RateLimitRule GetRule(int index) => _requests[index].Rule;

    private static int FirstRecipientRequest(RequestTag[] tags, int count)
    {
        int i = 0;
        while (i < count && tags[i].Dimension is not (EmailGuardDimension.Recipient or EmailGuardDimension.RecipientDomain))
        {
            i++;
        }

        return i;
    }

    /// <summary>Whether every request from <paramref name="start"/> on is the recipient's or its domain's, exactly as the recipient fills a template.</summary>
    private static bool FitsTemplates(RequestTag[] tags, RateLimitRequest[] requests, int start, int count, GuardAddress recipient)
    {
        for (int i = start; i < count; i++)
        {
            RequestTag tag = tags[i];
            bool fits = tag.Dimension switch
            {
                EmailGuardDimension.Recipient => ReferenceEquals(requests[i].Key, recipient.RecipientKey) && ReferenceEquals(tag.Partition, recipient.Address),
                EmailGuardDimension.RecipientDomain => ReferenceEquals(requests[i].Key, recipient.DomainKey) && ReferenceEquals(tag.Partition, recipient.DomainPartition),
                _ => false,
            };
            if (!fits || !ReferenceEquals(tag.Recipient, recipient.Address))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the same requests with the same tags; rules by identity, so a shape never stands for a rule that only looks alike.</summary>
    private bool Matches(RequestTag[] tags, RateLimitRequest[] requests, int count, int fixedCount)
    {
        if (count != _requests.Length || fixedCount != Fixed)
        {
            return false;
        }

        for (int i = 0; i < count; i++)
        {
            ref readonly RateLimitRequest a = ref _requests[i];
            ref readonly RateLimitRequest b = ref requests[i];
            ref readonly RequestTag x = ref _tags[i];
            ref readonly RequestTag y = ref tags[i];
            if (a.Cost != b.Cost || !ReferenceEquals(a.Rule, b.Rule) || x.Dimension != y.Dimension || x.OwnCopiesOf != y.OwnCopiesOf)
            {
                return false;
            }

            if (i < fixedCount
                && (!string.Equals(a.Key, b.Key, StringComparison.Ordinal) || !string.Equals(x.Partition, y.Partition, StringComparison.Ordinal) || !string.Equals(x.Recipient, y.Recipient, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }
}
