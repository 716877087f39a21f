using System.Globalization;

namespace EmailGuard;

/// <summary>
/// Reads a time span setting. Besides .NET's own <c>hh:mm:ss</c> and <c>d.hh:mm:ss</c>, it accepts the shorthand
/// periods people bring from AspNetCoreRateLimit and nginx: <c>500ms</c>, <c>30s</c>, <c>15m</c>, <c>1h</c>,
/// <c>1d</c>, <c>1w</c>, and combinations from the largest unit down (<c>1h30m</c>, <c>1d 12h</c>).
/// </summary>
/// <remarks>
/// Units are lower case on purpose: nginx reads <c>1M</c> as a month, and a minute misread as a month is a limit
/// that is 43,200 times too loose. A bare number is refused for the same reason: .NET reads <c>60</c> as 60 days, and
/// so is <c>hh:mm:ss</c> with more than 23 hours: .NET reads <c>24:00:00</c> as 24 days.
/// </remarks>
internal static class TimeSpanSetting
{
    /// <summary>What the error message offers as the accepted forms.</summary>
    public const string Forms = "write 30s, 15m, 1h, 1d, 1w, 500ms, a combination such as 1h30m, or hh:mm:ss such as 00:15:00";

    private static readonly (string Unit, long Ticks)[] Units =
    [
        ("w", TimeSpan.TicksPerDay * 7),
        ("d", TimeSpan.TicksPerDay),
        ("h", TimeSpan.TicksPerHour),
        ("m", TimeSpan.TicksPerMinute),
        ("s", TimeSpan.TicksPerSecond),
        ("ms", TimeSpan.TicksPerMillisecond),
    ];

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong.</summary>
    /// <param name="text">The setting's value.</param>
    /// <param name="value">The time span.</param>
    /// <param name="isShorthand">Whether the value used the shorthand, so the binder must be given the canonical form.</param>
    /// <param name="error">Why the text is not a time span.</param>
    /// <returns>Whether the text is a time span.</returns>
    public static bool TryParse(string text, out TimeSpan value, out bool isShorthand, out string? error)
    {
        value = default;
        isShorthand = false;
        error = null;
        string trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            error = $"'{text}' is not a time span; {Forms}";
            return false;
        }

        if (!trimmed.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            error = $"'{text}' has no unit; write {trimmed}s, {trimmed}m, {trimmed}h or {trimmed}d, or hh:mm:ss";
            return false;
        }

        if (trimmed.Contains(':', StringComparison.Ordinal))
        {
            if (TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out value))
            {
                if (ReadsHoursAsDays(trimmed, value) is { } first)
                {
                    error = $"'{text}' is {value.ToString("c", CultureInfo.InvariantCulture)} in .NET's reading ({first} days, not hours: a first part over 23 counts days); "
                        + $"write {first}h for {first} hours, or {value.ToString("c", CultureInfo.InvariantCulture)} if days are meant";
                    value = default;
                    return false;
                }

                return true;
            }

            error = $"'{text}' is not a time span; {Forms}";
            return false;
        }

        if (TryParseShorthand(trimmed, out value, out string? problem))
        {
            isShorthand = true;
            return true;
        }

        error = $"'{text}' is not a time span{problem}; {Forms}";
        return false;
    }

    /// <summary>
    /// The first part of <paramref name="text"/> when it is <c>hh:mm:ss</c> with more than 23 hours, which .NET reads as
    /// <c>d:hh:mm</c>: <c>24:00:00</c> is 24 days, so a day written that way was a window, a flag or a ban 24 times too
    /// long (or a setting's range refused it as days). Null for every other form, <c>d.hh:mm:ss</c> and
    /// <c>d:hh:mm:ss</c> included, whose days are written as days.
    /// </summary>
    private static string? ReadsHoursAsDays(string text, TimeSpan value)
    {
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (value.Days == 0 || text.Count(c => c == ':') != 2 || text.AsSpan(0, colon).Contains('.'))
        {
            return null;
        }

        return text[..colon].TrimStart('-', '+');
    }

    private static bool TryParseShorthand(string text, out TimeSpan value, out string? problem)
    {
        value = default;
        problem = null;
        decimal ticks = 0;
        int previousUnit = -1;
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (i == start || !decimal.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal amount))
            {
                return false;
            }

            while (i < text.Length && text[i] == ' ')
            {
                i++;
            }

            int unit = MatchUnit(text, i);
            if (unit < 0)
            {
                problem = i < text.Length && char.IsAsciiLetterUpper(text[i]) ? " (units are lower case: ms, s, m, h, d, w)" : null;
                return false;
            }

            if (unit <= previousUnit)
            {
                problem = " (give each unit once, largest first, as in 1h30m)";
                return false;
            }

            previousUnit = unit;
            try
            {
                ticks += amount * Units[unit].Ticks;
            }
            catch (OverflowException)
            {
                problem = " (it is too long)";
                return false;
            }

            i += Units[unit].Unit.Length;
            while (i < text.Length && text[i] == ' ')
            {
                i++;
            }
        }

        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            problem = " (it is too long)";
            return false;
        }

        if (ticks != decimal.Truncate(ticks))
        {
            problem = " (it is finer than 100 ns)";
            return false;
        }

        value = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    // Returns the index into Units, largest unit first. A unit must not run on into a letter, so "m" never matches "ms".
    private static int MatchUnit(string text, int at)
    {
        for (int u = 0; u < Units.Length; u++)
        {
            string unit = Units[u].Unit;
            if (string.CompareOrdinal(text, at, unit, 0, unit.Length) == 0
                && (at + unit.Length == text.Length || !char.IsAsciiLetter(text[at + unit.Length])))
            {
                return u;
            }
        }

        return -1;
    }
}
