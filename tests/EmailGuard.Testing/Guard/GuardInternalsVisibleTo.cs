using System.Runtime.CompilerServices;

// The scenario suite's state-store factory is internal (the state store is); store-specific subclasses override it.
[assembly: InternalsVisibleTo("EmailGuard.Tests")]
[assembly: InternalsVisibleTo("EmailGuard.Redis.Tests")]
