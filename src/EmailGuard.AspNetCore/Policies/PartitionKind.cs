namespace EmailGuard.AspNetCore;

internal enum PartitionKind
{
    ClientIp,
    User,
    Tenant,
    Field,
    RouteValue,
    Custom,
}
