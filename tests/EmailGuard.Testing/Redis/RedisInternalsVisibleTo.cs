using System.Runtime.CompilerServices;

// The fault tests of the endpoint package start their own redis-server processes (password, paused) too.
[assembly: InternalsVisibleTo("EmailGuard.AspNetCore.Tests")]
