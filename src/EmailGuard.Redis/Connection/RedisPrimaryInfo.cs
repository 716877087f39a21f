namespace EmailGuard.Redis;

/// <summary>What one primary answered to <see cref="RedisPrimaryInfoReader"/>: its <c>INFO</c> text, or why it refused the script.</summary>
internal sealed class RedisPrimaryInfo
{
    public RedisPrimaryInfo(string endpoint, string? info, string? refusal)
    {
        Endpoint = endpoint;
        Info = info;
        Refusal = refusal;
    }

    /// <summary>Where the primary was reached.</summary>
    public string Endpoint { get; }

    /// <summary>The <c>INFO server</c> and <c>INFO memory</c> sections, or <see langword="null"/> when the script was refused.</summary>
    public string? Info { get; }

    /// <summary>The server's error when it refused the script (Lua disabled, <c>EVAL</c> not allowed), else <see langword="null"/>.</summary>
    public string? Refusal { get; }
}
