namespace EmailGuard.Dashboard;

/// <summary>The last <see cref="Capacity"/> events this instance saw, newest first; older ones fall off.</summary>
internal sealed class DashboardEventLog
{
    public const int Capacity = 500;

    private readonly Lock _lock = new();
    private readonly DashboardEvent[] _ring = new DashboardEvent[Capacity];
    private long _written;

    public void Add(DashboardEvent item)
    {
        lock (_lock)
        {
            _ring[_written % Capacity] = item;
            _written++;
        }
    }

    public IReadOnlyList<DashboardEvent> Snapshot()
    {
        lock (_lock)
        {
            int count = (int)Math.Min(_written, Capacity);
            DashboardEvent[] result = new DashboardEvent[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = _ring[(_written - 1 - i) % Capacity];
            }

            return result;
        }
    }
}
