using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>A Lua script with its SHA-1, so that calls send the 40-byte digest (EVALSHA) instead of the text.</summary>
internal sealed class RedisScript
{
    /// <param name="name">The script's name, for logs.</param>
    /// <param name="text">The Lua text.</param>
    /// <param name="noRedirect">
    /// Whether a call refused with <c>ASK</c> or <c>MOVED</c> fails with that refusal instead of following it: for the
    /// node script, which must never run under <c>ASKING</c> (see <see cref="Flags"/>).
    /// </param>
    public RedisScript(string name, string text, bool noRedirect = false)
    {
        Name = name;
        Text = text;
        Flags = noRedirect ? CommandFlags.NoRedirect : CommandFlags.None;
#pragma warning disable CA5350 // Redis names cached scripts by SHA-1; this is an identifier, not a security boundary.
        Hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
    }

    public string Name { get; }

    public string Text { get; }

    public byte[] Hash { get; }

    /// <summary>
    /// The flags every call of the script is sent with. <see cref="CommandFlags.NoRedirect"/> for a script whose keys
    /// are not all declared: a node answers a declared key of a slot it is importing only under <c>ASKING</c>, and
    /// under <c>ASKING</c> it would also serve an undeclared key of that slot which still lives on the old node, as
    /// missing, instead of refusing it.
    /// </summary>
    public CommandFlags Flags { get; }
}
