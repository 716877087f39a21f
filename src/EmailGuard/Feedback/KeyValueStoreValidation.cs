namespace EmailGuard;

/// <summary>
/// The argument checks every <see cref="IEmailGuardKeyValueStore"/> runs first, so that a key or value outside the
/// contract gets the same clear exception from every store, and is refused before anything is written.
/// </summary>
/// <remarks>
/// <para>
/// Keys are 1 to <see cref="MaxKeyLength"/> printable ASCII characters without spaces; values are at most
/// <see cref="MaxValueLength"/> printable ASCII characters, spaces allowed; a time to live is positive. Printable
/// ASCII is <c>'!'</c> to <c>'~'</c> (and the space in a value): no control characters, line breaks or non-ASCII
/// text, so a value never needs escaping in any backend and a key never collides with another after encoding.
/// </para>
/// <para>
/// A store calls the method of the operation it implements before it does anything else; the shared contract suite
/// expects exactly these exceptions. EmailGuard's own callers (feedback attribution, the webhooks' replay memory, the
/// ratio breakers' escalation memory, fan-out, the dashboard's shared activity) only write what these checks accept.
/// The checks do not allocate unless they throw.
/// </para>
/// </remarks>
public static class KeyValueStoreValidation
{
    /// <summary>The longest key, in characters.</summary>
    public const int MaxKeyLength = 256;

    /// <summary>The longest value, in characters.</summary>
    public const int MaxValueLength = 4096;

    /// <summary>Checks the key of any call (<see cref="IEmailGuardKeyValueStore.GetAsync"/> takes only a key).</summary>
    /// <param name="key">The key: 1 to <see cref="MaxKeyLength"/> printable ASCII characters, no spaces.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty, too long, or has a character outside printable ASCII or a space.</exception>
    public static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!IsValidKey(key))
        {
            throw new ArgumentException($"A key is 1 to {MaxKeyLength} printable ASCII characters without spaces; this one is {key.Length} characters long or has another character.", nameof(key));
        }
    }

    /// <summary>Checks a value.</summary>
    /// <param name="value">The value: at most <see cref="MaxValueLength"/> printable ASCII characters or spaces.</param>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="value"/> is too long, or has a character outside printable ASCII and the space.</exception>
    public static void ValidateValue(string value) => CheckValue(value, nameof(value));

    /// <summary>
    /// Checks the arguments of <see cref="IEmailGuardKeyValueStore.SetAsync"/> and
    /// <see cref="IEmailGuardKeyValueStore.GetOrAddAsync"/>: the key, the value, and a positive time to live.
    /// </summary>
    /// <param name="key">The key, as for <see cref="ValidateKey"/>.</param>
    /// <param name="value">The value, as for <see cref="ValidateValue"/>.</param>
    /// <param name="timeToLive">How long the value lives: positive.</param>
    /// <exception cref="ArgumentException">An argument is outside the contract.</exception>
    public static void ValidateWrite(string key, string value, TimeSpan timeToLive)
    {
        ValidateKey(key);
        ValidateValue(value);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
    }

    /// <summary>
    /// Checks the arguments of <see cref="IEmailGuardKeyValueStore.RemoveAsync"/>: the key, and the expected value as a
    /// value is checked, so that a value no store could hold is refused rather than reported as absent.
    /// </summary>
    /// <param name="key">The key, as for <see cref="ValidateKey"/>.</param>
    /// <param name="expectedValue">The value to remove, as for <see cref="ValidateValue"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="expectedValue"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is outside the contract.</exception>
    public static void ValidateRemove(string key, string expectedValue)
    {
        ValidateKey(key);
        CheckValue(expectedValue, nameof(expectedValue));
    }

    /// <summary>Whether a key is within the contract, for a caller that builds keys from outside input.</summary>
    /// <param name="key">The key.</param>
    /// <returns>True when every store accepts <paramref name="key"/>.</returns>
    public static bool IsValidKey(string? key)
        => key is { Length: > 0 and <= MaxKeyLength } && IsPrintableAscii(key, allowSpace: false);

    /// <summary>Whether a value is within the contract, for a caller that builds values from outside input.</summary>
    /// <param name="value">The value.</param>
    /// <returns>True when every store accepts <paramref name="value"/>.</returns>
    public static bool IsValidValue(string? value)
        => value is { Length: <= MaxValueLength } && IsPrintableAscii(value, allowSpace: true);

    private static void CheckValue(string value, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(value, parameterName);
        if (!IsValidValue(value))
        {
            throw new ArgumentException($"A value is at most {MaxValueLength} printable ASCII characters or spaces; this one is {value.Length} characters long or has another character.", parameterName);
        }
    }

    private static bool IsPrintableAscii(string text, bool allowSpace)
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
