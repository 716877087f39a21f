namespace EmailGuard.Testing.Redis;

/// <summary>
/// Finds Garnet as the repository's local dotnet tool installs it (<c>dotnet tool restore</c>, see
/// <c>.config/dotnet-tools.json</c>): <c>GarnetServer.dll</c> in the NuGet package cache, run with <c>dotnet</c>.
/// </summary>
public static class GarnetBinaries
{
    /// <summary>The Garnet version the tool manifest pins.</summary>
    public const string Version = "2.2.8";

    /// <summary>The environment variable that points the Garnet tests at a running Garnet instead.</summary>
    public const string EnvironmentVariable = "EMAILGUARD_GARNET";

    /// <summary>Returns the path of <c>GarnetServer.dll</c>, or <see langword="null"/> when the tool is not restored.</summary>
    /// <returns>The path, or null.</returns>
    public static string? FindServerDll()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string tools = Path.Combine(packages, "garnet-server", Version, "tools");
        if (!System.IO.Directory.Exists(tools))
        {
            return null;
        }

        return System.IO.Directory.GetFiles(tools, "GarnetServer.dll", SearchOption.AllDirectories)
            .OrderDescending(StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>Returns the <c>dotnet</c> host that runs the tests, to run Garnet with.</summary>
    /// <returns>The path of the dotnet executable.</returns>
    public static string Dotnet()
        => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : RedisBinaries.Find("dotnet") ?? "/usr/share/dotnet/dotnet";
}
