using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.Redis;

/// <summary>A Lua script with its SHA-1, so that calls send the 40-byte digest (EVALSHA) instead of the text.</summary>
internal sealed class RedisScript
{
    public RedisScript(string name, string text)
    {
        Name = name;
        Text = text;
#pragma warning disable CA5350 // Redis names cached scripts by SHA-1; this is an identifier, not a security boundary.
        Hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
    }

    public string Name { get; }

    public string Text { get; }

    public byte[] Hash { get; }
}
