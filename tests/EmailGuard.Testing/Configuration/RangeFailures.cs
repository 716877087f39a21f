using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using FluentAssertions;
using FluentAssertions.Execution;
using Microsoft.Extensions.Options;

namespace EmailGuard.Testing.Configuration;

/// <summary>
/// Checks every <see cref="RangeAttribute"/> of an options type: a value just outside each end, alone in otherwise
/// default options, must fail once, by the setting's full path, in the hand-written checks' words
/// (<c>EmailGuard:Redis:WaitForReplicas must be between 0 and 16; it is 17.</c>), never in .NET's ("The field
/// Type.Property …") nor with a bound printed as 9.223372036854776E+18.
/// </summary>
public static class RangeFailures
{
    private static readonly Regex s_sentence = new(@"^(?<path>\S+) must be (between \S+ and \S+|at least \S+|at most \S+|greater than \S+ and (at most|less than) \S+|at least \S+ and less than \S+); it is (?<value>\S+)\.$", RegexOptions.CultureInvariant);

    /// <summary>Fails unless every ranged property of <typeparamref name="TOptions"/> fails as described; returns how many ends were checked.</summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <param name="validator">The validator the app registers for it.</param>
    /// <param name="section">The options' section, such as <c>EmailGuard:Redis</c>.</param>
    public static int ShouldAllReadLikeTheHandWrittenChecks<TOptions>(IValidateOptions<TOptions> validator, string section)
        where TOptions : class, new()
    {
        int checkedEnds = 0;
        using var scope = new AssertionScope();
        foreach (PropertyInfo property in typeof(TOptions).GetProperties())
        {
            if (property.GetCustomAttribute<RangeAttribute>() is not { } range)
            {
                continue;
            }

            range.IsValid(null);
            foreach (object outside in Outside(range, Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType))
            {
                var options = new TOptions();
                property.SetValue(options, outside);
                ValidateOptionsResult result = validator.Validate(Options.DefaultName, options);
                string setting = $"{section}:{property.Name}";
                result.Failed.Should().BeTrue("{0} = {1} is out of its range", setting, outside);
                if (!result.Failed)
                {
                    continue;
                }

                result.Failures.Should().ContainSingle("{0} = {1} is one mistake", setting, outside);
                string failure = result.Failures.First();
                Match match = s_sentence.Match(failure);
                match.Success.Should().BeTrue("'{0}' should read '{1} must be between A and B; it is V.'", failure, setting);
                match.Groups["path"].Value.Should().Be(setting);
                failure.Should().NotContain("The field").And.NotContain("E+").And.NotMatchRegex(@"\.\d{7}");
                checkedEnds++;
            }
        }

        return checkedEnds;
    }

    /// <summary>A value just below the minimum and just above the maximum, where the property's type has room.</summary>
    private static IEnumerable<object> Outside(RangeAttribute range, Type type)
    {
        if (type == typeof(TimeSpan))
        {
            yield return (TimeSpan)range.Minimum - TimeSpan.FromMilliseconds(1);
            yield return (TimeSpan)range.Maximum + TimeSpan.FromMilliseconds(1);
        }
        else if (type == typeof(double))
        {
            yield return Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture) - 0.5;
            yield return Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture) + 0.5;
        }
        else if (type == typeof(int) || type == typeof(long))
        {
            double min = Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture);
            double max = Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture);
            double typeMax = type == typeof(int) ? int.MaxValue : long.MaxValue;
            yield return Convert.ChangeType((long)min - 1, type, CultureInfo.InvariantCulture);
            if (max < typeMax)
            {
                yield return Convert.ChangeType((long)max + 1, type, CultureInfo.InvariantCulture);
            }
        }
        else
        {
            throw new NotSupportedException($"A [Range] on a {type.Name} is not checked here; add it.");
        }
    }
}
