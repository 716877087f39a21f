namespace EmailGuard;

/// <summary>One page of list entries.</summary>
public sealed class EmailGuardListPage
{
    internal EmailGuardListPage(IReadOnlyList<EmailGuardListEntry> items, int totalCount, int skip, int take)
    {
        Items = items;
        TotalCount = totalCount;
        Skip = skip;
        Take = take;
    }

    /// <summary>Gets the entries of the page.</summary>
    public IReadOnlyList<EmailGuardListEntry> Items { get; }

    /// <summary>Gets how many entries match the filter in all.</summary>
    public int TotalCount { get; }

    /// <summary>Gets the entries skipped.</summary>
    public int Skip { get; }

    /// <summary>Gets the page size asked for.</summary>
    public int Take { get; }
}
