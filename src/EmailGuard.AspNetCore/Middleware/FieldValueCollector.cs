using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Finds every value of a policy's <see cref="EmailRateLimitPolicyBuilder.PerField"/> fields that model binding could
/// bind: in the body (JSON or form), the query string and the route. One value in one place is counted. A field
/// repeated within one place, or different addresses in different places, is what lets a request count a decoy while
/// the endpoint binds the victim; the policy's <see cref="RepeatedFieldBehavior"/> decides between refusing it and
/// counting every address.
/// </summary>
internal static class FieldValueCollector
{
    /// <summary>The most distinct addresses one field may carry under <see cref="RepeatedFieldBehavior.CountEach"/>.</summary>
    public const int MaxValuesPerField = 16;

    /// <param name="StatusCode">The status to answer when <paramref name="Problem"/> is set.</param>
    /// <param name="Problem">Why the request is refused, or <see langword="null"/>.</param>
    /// <param name="Keys">Per field of <see cref="EmailRateLimitPolicy.FieldNames"/>, the distinct hashed addresses to
    /// count; empty when the request does not carry the field.</param>
    public readonly record struct Result(int StatusCode, string? Problem, string[][] Keys)
    {
        public bool Succeeded => Problem is null;
    }

    public static async ValueTask<Result> CollectAsync(HttpContext context, EmailRateLimitPolicy policy, int maxBodyBytes, EmailAddressNormalizationOptions normalization)
    {
        string[] fieldNames = policy.FieldNames;
        var keys = new string[fieldNames.Length][];
        BodyFieldReader.Result body = await BodyFieldReader.ReadAsync(context, fieldNames, maxBodyBytes).ConfigureAwait(false);
        if (!body.Succeeded)
        {
            return new(body.StatusCode, body.Problem, keys);
        }

        HttpRequest request = context.Request;
        for (int i = 0; i < fieldNames.Length; i++)
        {
            var found = new List<string>(1);
            bool repeated = Add(found, body.Values[i], normalization);
            StringValues query = default;
            foreach (KeyValuePair<string, StringValues> pair in request.Query)
            {
                if (FieldNameMatcher.Matches(pair.Key, fieldNames[i]))
                {
                    query = StringValues.Concat(query, pair.Value);
                }
            }

            repeated |= Add(found, query, normalization);
            StringValues route = default;
            foreach (KeyValuePair<string, object?> pair in request.RouteValues)
            {
                if (pair.Value is not null && FieldNameMatcher.Matches(pair.Key, fieldNames[i]))
                {
                    route = StringValues.Concat(route, Convert.ToString(pair.Value, CultureInfo.InvariantCulture));
                }
            }

            repeated |= Add(found, route, normalization);
            repeated |= found.Count > 1;
            // A shadow policy records, never blocks: it counts every address instead.
            if (repeated && policy.RepeatedField == RepeatedFieldBehavior.Reject && !policy.ShadowMode)
            {
                return new(StatusCodes.Status400BadRequest,
                    $"The field '{fieldNames[i]}' must appear once: send one address, in the body, the query string or the route, not several.", keys);
            }

            if (found.Count > MaxValuesPerField && policy.ShadowMode)
            {
                found.RemoveRange(MaxValuesPerField, found.Count - MaxValuesPerField);
            }
            else if (found.Count > MaxValuesPerField)
            {
                return new(StatusCodes.Status400BadRequest,
                    string.Create(CultureInfo.InvariantCulture, $"The field '{fieldNames[i]}' carries more than {MaxValuesPerField} addresses."), keys);
            }

            keys[i] = [.. found];
        }

        return new(StatusCodes.Status200OK, null, keys);
    }

    /// <summary>The acquire requests a policy needs beyond one per rule, for fields that carry several addresses.</summary>
    public static int ExtraRequests(EmailRateLimitPolicy? policy, string[][]? keys)
    {
        if (policy is null || keys is null || policy.FieldNames.Length == 0)
        {
            return 0;
        }

        int extra = 0;
        foreach (EmailRateLimitPartition partition in policy.Partitions)
        {
            if (partition.Kind == PartitionKind.Field)
            {
                int index = Array.FindIndex(policy.FieldNames, f => f.Equals(partition.Name, StringComparison.OrdinalIgnoreCase));
                extra += Math.Max(0, keys[index].Length - 1) * partition.Rules.Length;
            }
        }

        return extra;
    }

    /// <summary>
    /// Adds the distinct hashed addresses of one place; returns whether the place holds the field more than once, or a
    /// value that lists several addresses.
    /// </summary>
    private static bool Add(List<string> found, StringValues values, EmailAddressNormalizationOptions normalization)
    {
        bool list = false;
        foreach (string? value in values)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }

            if (value.AsSpan().IndexOfAny(',', ';') >= 0 && AddList(found, value, normalization) is int listed and > 0)
            {
                list |= listed > 1;
                continue;
            }

            AddKey(found, StoreKeyEncoding.Hash(EmailAddressNormalizer.GetPartitionValue(value, normalization)));
        }

        return values.Count > 1 || list;
    }

    /// <summary>
    /// Adds each address of a value that lists several, split at commas and semicolons outside quotes, comments and
    /// angle brackets (<c>decoy@attacker.test, victim@example.com</c>): System.Net.Mail's <c>MailMessage(from, to)</c>
    /// and <c>MailAddressCollection.Add</c>, and MailKit's address lists, mail every one of them. Keyed as one string,
    /// each new decoy was a fresh counter while the victim was mailed every time.
    /// </summary>
    /// <returns>How many parts are addresses; 0 when none is and the value is counted as one string.</returns>
    private static int AddList(List<string> found, string value, EmailAddressNormalizationOptions normalization)
    {
        var keys = new List<string>(2);
        foreach (string part in EmailAddressNormalizer.SplitAddressList(value))
        {
            // One more address than a field may carry is enough for the caller to refuse the request.
            if (keys.Count > MaxValuesPerField)
            {
                break;
            }

            string partition = EmailAddressNormalizer.GetPartitionValue(part, normalization);
            if (EmailAddressNormalizer.TryNormalize(partition, normalization, out _, out _))
            {
                keys.Add(StoreKeyEncoding.Hash(partition));
            }
        }

        foreach (string key in keys)
        {
            AddKey(found, key);
        }

        return keys.Count;
    }

    private static void AddKey(List<string> found, string key)
    {
        if (!found.Contains(key, StringComparer.Ordinal))
        {
            found.Add(key);
        }
    }
}
