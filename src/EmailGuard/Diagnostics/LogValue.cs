using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// Makes a value from outside the app (a party id, a header, a webhook field, a request path) safe to put in a log
/// line: a plain-text sink writes it as it is, so "x\r\nwarn: EmailGuard[2001] ..." would forge a line, an ESC would
/// repaint the operator's terminal, U+2028 or U+0085 would break the line in some viewers, a bidi override would hide
/// text, and a 16 KB id would make every line 16 KB.
/// </summary>
/// <remarks>
/// Control characters (C0, DEL, C1), U+2028/U+2029 and the invisible bidi and format controls are written as
/// <c>\uXXXX</c>, and a backslash as <c>\\</c>, so an escape in the output always came from an escaped character, never
/// from a value that spelled one out. The result is cut at <see cref="MaxLength"/> characters (never inside a surrogate
/// pair or an escape), followed by a marker with the original length. Used on log arguments only: keys, decisions
/// and the store always see the value itself. An exception handed to a logger goes through <see cref="Of(Exception?)"/>:
/// a plain-text sink writes its message (and its inner exceptions') as it is. Compiled into every package from this
/// file, so it names no other type.
/// </remarks>
internal static class LogValue
{
    /// <summary>The most characters of a value a log line carries, escapes included, before the truncation marker.</summary>
    public const int MaxLength = 256;

    /// <summary>
    /// The most characters of an exception's message a log line carries, escapes included: a Redis timeout's message
    /// lists the connection's state in a few hundred characters, which an operator needs whole.
    /// </summary>
    public const int MaxMessageLength = 4096;

    /// <summary>How deep <see cref="Of(Exception?)"/> follows inner exceptions; a stand-in leaves deeper ones out.</summary>
    private const int MaxDepth = 8;

    // C0, DEL, C1 (with NEL, U+0085), the line and paragraph separators, the bidi marks, embeddings, overrides and
    // isolates, the Arabic letter mark and the BOM: what can break or disguise a line.
    private const string LineBreaking =
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        "\u007F" +
        "\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F" +
        "\u061C\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\uFEFF";

    // Those, and the backslash that introduces an escape: what a log value escapes.
    private static readonly SearchValues<char> Unsafe = SearchValues.Create(LineBreaking + "\\");

    private static readonly SearchValues<char> LineBreakers = SearchValues.Create(LineBreaking);

    /// <summary>
    /// Returns <paramref name="value"/> itself when it is short and has nothing to escape (no allocation), else an
    /// escaped, bounded copy; <see langword="null"/> stays <see langword="null"/>.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Of(string? value)
        => value is null || (value.Length <= MaxLength && !value.AsSpan().ContainsAny(Unsafe)) ? value : Escape(value, MaxLength);

    /// <summary>
    /// Returns <paramref name="exception"/> itself when neither its message nor an inner exception's could break a
    /// line (no allocation), else a stand-in to log in its place: the same type name, stack trace and inner exceptions
    /// when printed, with every message escaped as <see cref="Of(string?)"/> does and cut at
    /// <see cref="MaxMessageLength"/>. The exception itself is not changed: the caller may still throw or inspect it.
    /// </summary>
    /// <remarks>
    /// A message with backslashes and nothing else to escape (a Windows path) is left as it is, since it breaks no line.
    /// The stand-in is no <see cref="Exception.InnerException"/> wrapper around the original: a sink prints an inner
    /// exception's message too, raw. Its own type is not the original's, which <see cref="Exception.ToString"/> names.
    /// </remarks>
    [return: NotNullIfNotNull(nameof(exception))]
    public static Exception? Of(Exception? exception)
        => exception is null || IsClean(exception, 0) ? exception : new EscapedException(exception, 0);

    private static bool IsClean(Exception exception, int depth)
    {
        // A chain deeper than a stand-in follows is not looked at: it is cut there instead.
        if (depth >= MaxDepth || !IsCleanMessage(exception.Message))
        {
            return false;
        }

        if (exception is AggregateException aggregate)
        {
            foreach (Exception inner in aggregate.InnerExceptions)
            {
                if (!IsClean(inner, depth + 1))
                {
                    return false;
                }
            }

            return true;
        }

        return exception.InnerException is not { } innerException || IsClean(innerException, depth + 1);
    }

    /// <summary>A message that breaks no line and is short enough; a backslash alone (a Windows path) leaves it clean.</summary>
    private static bool IsCleanMessage(string message)
        => message.Length <= MaxMessageLength && !message.AsSpan().ContainsAny(LineBreakers);

    private static string Escape(string value, int maxLength)
    {
        StringBuilder builder = new(Math.Min(value.Length, maxLength) + 32);
        int i = 0;
        while (i < value.Length)
        {
            char c = value[i];
            int width = c == '\\' ? 2 : Unsafe.Contains(c) ? 6 : char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]) ? 2 : 1;
            if (builder.Length + width > maxLength)
            {
                break;
            }

            if (c == '\\')
            {
                builder.Append(@"\\");
            }
            else if (width == 6)
            {
                builder.Append(@"\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(value, i, width);
                i += width - 1;
            }

            i++;
        }

        if (i < value.Length)
        {
            builder.Append(CultureInfo.InvariantCulture, $"...[truncated, {value.Length} chars]");
        }

        return builder.ToString();
    }

    /// <summary>
    /// What a logger gets in place of an exception whose message could break a line: printed like the original, with
    /// the original's type name and stack trace, and its messages escaped.
    /// </summary>
    private sealed class EscapedException : Exception
    {
        private readonly string _typeName;
        private readonly string? _stackTrace;
        private readonly Exception[]? _aggregated;

        public EscapedException(Exception original, int depth)
            : this(original, original is AggregateException aggregate && depth + 1 < MaxDepth
                ? [.. aggregate.InnerExceptions.Select(e => Stand(e, depth + 1))]
                : null, depth)
        {
        }

        private EscapedException(Exception original, Exception[]? aggregated, int depth)
            : base(
                Escape(original.Message, MaxMessageLength),
                aggregated is not null ? aggregated.FirstOrDefault()
                : original.InnerException is { } inner && depth + 1 < MaxDepth ? Stand(inner, depth + 1) : null)
        {
            _typeName = original.GetType().ToString();
            _stackTrace = original.StackTrace;
            _aggregated = aggregated;
            HResult = original.HResult;
            Source = original.Source;
        }

        public override string? StackTrace => _stackTrace;

        /// <summary>The layout of <see cref="Exception.ToString"/> (and <see cref="AggregateException"/>'s), with the original's type name.</summary>
        public override string ToString()
        {
            StringBuilder text = new(_typeName);
            if (Message.Length > 0)
            {
                text.Append(": ").Append(Message);
            }

            if (_aggregated is null && InnerException is { } inner)
            {
                text.Append(" ---> ").Append(inner.ToString()).AppendLine().Append("   --- End of inner exception stack trace ---");
            }

            if (_stackTrace is not null)
            {
                text.AppendLine().Append(_stackTrace);
            }

            for (int i = 0; i < (_aggregated?.Length ?? 0); i++)
            {
                text.AppendLine().Append(CultureInfo.InvariantCulture, $"---> (Inner Exception #{i}) ").Append(_aggregated![i].ToString()).Append("<---").AppendLine();
            }

            return text.ToString();
        }

        private static Exception Stand(Exception exception, int depth) => IsClean(exception, depth) ? exception : new EscapedException(exception, depth);
    }
}
