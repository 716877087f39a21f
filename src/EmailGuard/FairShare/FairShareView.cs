namespace EmailGuard;

/// <summary>
/// What one instance last read of a fair-shared global rule: its count and the weight of the tenants active in its
/// window. Immutable; swapped whole on every refresh.
/// </summary>
/// <param name="WindowIndex">The fixed window of the rule's length the view was read in.</param>
/// <param name="ReadAtMilliseconds">When it was read (Unix milliseconds, the app's clock).</param>
/// <param name="GlobalCount">The global rule's count.</param>
/// <param name="WeightUnits">The summed weights of the active weighted tenants, in thousandths.</param>
/// <param name="DefaultTenants">How many active tenants have the default weight.</param>
/// <param name="PreviousWeight">The active weight this instance last read in the window before, or 0.</param>
/// <param name="AdmittedHereAtRead">What this instance had admitted under the rule when the read began.</param>
internal sealed record FairShareView(
    long WindowIndex, long ReadAtMilliseconds, long GlobalCount, long WeightUnits, long DefaultTenants, double PreviousWeight, long AdmittedHereAtRead)
{
    /// <summary>The active weight of the window: weighted tenants, plus default-weight tenants up to their cap.</summary>
    public double ActiveWeight(FairShareOptions options)
        => (WeightUnits / (double)FairShareTracker.WeightScale) + Math.Min(DefaultTenants * options.DefaultWeight, options.MaxDefaultWeightTotal);
}
