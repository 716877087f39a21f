using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace EmailGuard;

/// <content>
/// What a check found, and which failures of the options' own validators still hold of what was configured when the
/// binding had to leave settings out.
/// </content>
internal static partial class StrictConfiguration
{
    private static readonly ConditionalWeakTable<object, Result> s_bindingFailures = [];

    /// <summary>
    /// The failures <see cref="Bind{TOptions}"/> met while binding <paramref name="options"/>, taken so that they are
    /// reported once; <see langword="null"/> when every setting bound.
    /// </summary>
    public static Result? TakeBindingFailures(object options)
    {
        if (!s_bindingFailures.TryGetValue(options, out Result? result))
        {
            return null;
        }

        s_bindingFailures.Remove(options);
        return result;
    }

    // A setting's full path as the failures write it, from the EmailGuard section on, up to a space, quote, bracket or
    // separator; a trailing ':' or '.' is the sentence's.
    [GeneratedRegex(@"(?<![\w:])EmailGuard(?::[^\s,;'""()\[\]]+)+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SettingPath();

    /// <summary>The failures, the canonical text for values given in a form the stock binder cannot read, and what the binding left out.</summary>
    /// <param name="root">The section checked.</param>
    internal sealed class Result(IConfigurationSection root)
    {
        public List<string> Errors { get; } = [];

        public Dictionary<string, string> Rewrites { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Paths the binding leaves out, with everything below them: a value that does not convert, a read-only setting, two keys of one value that disagree.</summary>
        public HashSet<string> Hidden { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>
        /// Paths that may hold other than what was meant: the setting a misspelt key was likely meant for (the section
        /// when none is likely), a section written with a value the binder ignores.
        /// </summary>
        public HashSet<string> Doubtful { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Records a failure of <paramref name="setting"/>; <paramref name="hide"/> leaves it out of the binding.</summary>
        public void Fail(string failure, IConfigurationSection setting, bool hide)
        {
            Errors.Add(failure);
            (hide ? Hidden : Doubtful).Add(setting.Path);
        }

        /// <summary>
        /// Whether a validator's <paramref name="failure"/> holds of what was configured: every setting it names is clear
        /// of what the binding left out (neither at, below nor above it), and at, below or above a doubtful setting is
        /// a value that was written. A range failure of a limit whose value did not convert would quote the default in
        /// place of what was written; a rule whose window was misspelt <c>Windw</c> would be reported as having none.
        /// </summary>
        public bool Holds(string failure)
        {
            foreach (Match match in SettingPath().Matches(failure))
            {
                string path = match.Value.TrimEnd(':', '.');
                if (MayDiffer(path) || JudgesHiddenSibling(failure, path))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>
        /// Whether <paramref name="failure"/> of <paramref name="path"/> names a setting left out beside it (or below a
        /// setting beside it): "Name applies only to PartitionBy TenantHeader ...; this partition is counted by ClientIp"
        /// judges the default that a refused <c>PartitionBy</c> left in place, not the kind that was written.
        /// </summary>
        private bool JudgesHiddenSibling(string failure, string path)
        {
            int colon = path.LastIndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            string parent = path[..colon];
            foreach (string hidden in Hidden)
            {
                string key = hidden[(hidden.LastIndexOf(':') + 1)..];
                if (key.Length != 0 && char.IsAsciiLetter(key[0]) && IsAtOrBelow(hidden, parent) && NamesWord(failure, key))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool NamesWord(string text, string word)
        {
            for (int at = text.IndexOf(word, StringComparison.OrdinalIgnoreCase); at >= 0; at = text.IndexOf(word, at + 1, StringComparison.OrdinalIgnoreCase))
            {
                int end = at + word.Length;
                if ((at == 0 || !char.IsAsciiLetterOrDigit(text[at - 1])) && (end == text.Length || !char.IsAsciiLetterOrDigit(text[end])))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsAtOrBelow(string path, string ancestor)
            => path.StartsWith(ancestor, StringComparison.OrdinalIgnoreCase) && (path.Length == ancestor.Length || path[ancestor.Length] == ':');

        private bool MayDiffer(string path)
        {
            foreach (string hidden in Hidden)
            {
                if (IsAtOrBelow(path, hidden) || IsAtOrBelow(hidden, path))
                {
                    return true;
                }
            }

            foreach (string doubtful in Doubtful)
            {
                if ((IsAtOrBelow(doubtful, path) || IsAtOrBelow(path, doubtful)) && !IsWrittenValue(path))
                {
                    return true;
                }
            }

            return false;
        }

        private bool IsWrittenValue(string path)
            => path.Length > root.Path.Length + 1 && IsAtOrBelow(path, root.Path) && root.GetSection(path[(root.Path.Length + 1)..]).Value is not null;
    }
}
