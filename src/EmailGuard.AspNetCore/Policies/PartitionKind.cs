namespace EmailGuard.AspNetCore;

internal enum PartitionKind
{
    ClientIp,
    ClientNetwork,
    User,
    Tenant,
    Field,
    RouteValue,
    Custom,
}
