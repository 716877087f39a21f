namespace EmailGuard;

/// <summary>A kind of store call, as reported in metrics, logs and traces.</summary>
internal enum StoreOperation
{
    Acquire = 0,
    Peek = 1,
    Refund = 2,
    Reserve = 3,
}
