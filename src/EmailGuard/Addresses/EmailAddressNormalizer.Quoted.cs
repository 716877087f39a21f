using System.Text;

namespace EmailGuard;

/// <summary>Quoted local parts: the plain address a quoted spelling names, for the keys of values from requests.</summary>
public static partial class EmailAddressNormalizer
{
    /// <summary>
    /// Normalizes the address that <paramref name="address"/> names once its local part is unquoted, when the local part
    /// is quoted in whole or in words (<c>"victim+1"@gmail.com</c>, <c>"v\ictim"@gmail.com</c>,
    /// <c>"vic"."tim"@gmail.com</c>). RFC 5322 makes a quoted string the same local part as its content, and RFC 5321
    /// servers deliver it so: <c>"victim+1"@gmail.com</c> reaches victim@gmail.com. System.Net.Mail and MailKit send
    /// such a value as written, and it passes <c>[EmailAddress]</c>; keyed as written, every tag or quoted-pair spelling
    /// of one mailbox was a fresh counter. Only the keys of request values fold this way; the send guard still refuses a
    /// quoted local part. A local part whose content is not a plain one (white space, a second <c>@</c>), or that is
    /// not made of quoted strings and atoms between dots, is not unquoted.
    /// </summary>
    private static bool TryNormalizeUnquoted(string address, EmailAddressNormalizationOptions options, out NormalizedEmailAddress result)
    {
        result = default;
        int at = address.LastIndexOf('@');
        int quote = address.IndexOf('"', StringComparison.Ordinal);
        if (quote < 0 || at <= quote)
        {
            return false;
        }

        ReadOnlySpan<char> local = address.AsSpan(0, at);
        StringBuilder unquoted = new(local.Length);
        int i = 0;
        while (i < local.Length)
        {
            char c = local[i];
            if (c != '"')
            {
                unquoted.Append(c);
                i++;
                continue;
            }

            // A quoted string is a whole word: it starts the local part or follows a dot, and ends it or precedes one.
            if (i > 0 && local[i - 1] != '.')
            {
                return false;
            }

            i++;
            bool closed = false;
            while (i < local.Length)
            {
                char d = local[i];
                if (d == '\\' && i + 1 < local.Length)
                {
                    unquoted.Append(local[i + 1]);
                    i += 2;
                }
                else if (d == '"')
                {
                    closed = true;
                    i++;
                    break;
                }
                else
                {
                    unquoted.Append(d);
                    i++;
                }
            }

            if (!closed || (i < local.Length && local[i] != '.'))
            {
                return false;
            }
        }

        unquoted.Append(address.AsSpan(at));
        return TryNormalize(unquoted.ToString(), options, out result, out _);
    }
}
