namespace EmailGuard;

/// <summary>The limits <see cref="IEmailGuardKeyValueStore"/> documents, checked the same way by every store.</summary>
internal static class KeyValueStoreValidation
{
    public const int MaxKeyLength = 256;
    public const int MaxValueLength = 4096;

    public static void CheckKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Length > MaxKeyLength || !IsPlainAscii(key, allowSpace: false))
        {
            throw new ArgumentException($"A key is at most {MaxKeyLength} printable ASCII characters without spaces.", nameof(key));
        }
    }

    public static void Check(string key, string value, TimeSpan timeToLive)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > MaxValueLength || !IsPlainAscii(value, allowSpace: true))
        {
            throw new ArgumentException($"A value is at most {MaxValueLength} printable ASCII characters.", nameof(value));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
    }

    private static bool IsPlainAscii(string text, bool allowSpace)
    {
        foreach (char c in text)
        {
            if (c is < '!' or > '~' && !(allowSpace && c == ' '))
            {
                return false;
            }
        }

        return true;
    }
}
