namespace EmailGuard.Testing.Redis;

/// <summary>Finds the Redis command-line tools on PATH, falling back to where Debian installs them.</summary>
internal static class RedisBinaries
{
    public static string? Find(string name)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (path is not null)
        {
            foreach (string directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = Path.Combine(directory, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        string fallback = Path.Combine("/usr/bin", name);
        return File.Exists(fallback) ? fallback : null;
    }
}
