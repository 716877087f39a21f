using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailGuard.Redis;

/// <summary>
/// Reads the strings that repeat across list entries (a suppression's reason and who wrote it, such as
/// <c>hard_bounce</c> and <c>emailguard:feedback:ses</c>) as one shared instance each, so that an instance holding
/// 100,000 suppressions holds those two strings once, not 100,000 times (about 110 bytes an entry).
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="MaxPooled"/> distinct values of up to <see cref="MaxPooledLength"/> characters are
/// shared; any other value is read as it is, so values an admin or a caller chose cannot grow the pool.
/// </remarks>
internal sealed class PooledStringConverter : JsonConverter<string>
{
    public const int MaxPooled = 1_024;
    public const int MaxPooledLength = 64;

    private readonly ConcurrentDictionary<string, string> _pool = new(StringComparer.Ordinal);
    private int _count;

    public static PooledStringConverter Instance { get; } = new();

    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? value = reader.GetString();
        if (value is null || value.Length > MaxPooledLength)
        {
            return value;
        }

        if (_pool.TryGetValue(value, out string? pooled))
        {
            return pooled;
        }

        // Counted here, not with the dictionary's Count, which takes every one of its locks: once the pool is full,
        // each value read that is not in it would have paid for that.
        if (Volatile.Read(ref _count) >= MaxPooled)
        {
            return value;
        }

        if (_pool.TryAdd(value, value))
        {
            Interlocked.Increment(ref _count);
            return value;
        }

        return _pool.TryGetValue(value, out pooled) ? pooled : value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
