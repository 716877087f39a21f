namespace EmailGuard.Dashboard;

/// <summary>The parties the recent-activity record ranks.</summary>
internal enum ActivityDimension
{
    Tenant = 0,
    User = 1,
    Sender = 2,
    RecipientDomain = 3,
    Category = 4,
    ClientNetwork = 5,
}
