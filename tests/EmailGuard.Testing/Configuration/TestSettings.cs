namespace EmailGuard.Testing.Configuration;

/// <summary>Configuration written as <c>key=value</c> lines, so a table row of settings reads like an appsettings file.</summary>
public static class TestSettings
{
    /// <summary>Turns <c>EmailGuard:SendGuard:Global:Rules:0:Limit=100</c> lines into an in-memory configuration source.</summary>
    public static Dictionary<string, string?> Parse(params string[] settings)
        => settings.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => (string?)p[1]);
}
