namespace EmailGuard.Sample.Tenants;

/// <summary>A purchase order a tenant can share by email.</summary>
public sealed record PurchaseOrder(string Number, string Supplier, decimal Total)
{
    /// <summary>A few fixed orders per tenant; the sample is about the mail, not the orders.</summary>
    public static IReadOnlyList<PurchaseOrder> For(string tenantId) =>
    [
        new($"{tenantId.ToUpperInvariant()}-PO-1001", "Northwind Traders", 1_250.00m),
        new($"{tenantId.ToUpperInvariant()}-PO-1002", "Contoso Paper", 86.40m),
        new($"{tenantId.ToUpperInvariant()}-PO-1003", "Fabrikam Tools", 4_310.75m),
    ];
}
