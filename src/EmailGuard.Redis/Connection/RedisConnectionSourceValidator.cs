using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The cross-field rule of <see cref="RedisRateLimitStoreOptions"/>: the connection comes from exactly one place.
/// Two explicit sources would make it unclear which Redis holds the counters; none, with no multiplexer registered,
/// would fail only at the first email.
/// </summary>
internal sealed class RedisConnectionSourceValidator(IServiceProviderIsService? isService) : IValidateOptions<RedisRateLimitStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisRateLimitStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int explicitSources = (string.IsNullOrWhiteSpace(options.Configuration) ? 0 : 1)
            + (options.ConfigurationOptions is null ? 0 : 1)
            + (options.ConnectionMultiplexerFactory is null ? 0 : 1);
        const string path = EmailGuardRedisBuilderExtensions.ConfigurationSectionName + ":Configuration";
        if (explicitSources > 1)
        {
            return ValidateOptionsResult.Fail(
                $"{path} is set together with ConfigurationOptions or ConnectionMultiplexerFactory; set only one of Configuration, ConfigurationOptions and ConnectionMultiplexerFactory.");
        }

        if (explicitSources == 0 && isService?.IsService(typeof(IConnectionMultiplexer)) != true)
        {
            return ValidateOptionsResult.Fail(
                $"{path} is empty and nothing else names a Redis server; set Configuration (e.g. \"localhost:6379\"), or ConfigurationOptions or "
                + "ConnectionMultiplexerFactory in code, or register an IConnectionMultiplexer in the service collection.");
        }

        if (!string.IsNullOrWhiteSpace(options.Configuration) && options.ConfigurationOptions is null && options.ConnectionMultiplexerFactory is null)
        {
            // Parsed here, not first when the store is resolved, where an unknown keyword or a bad value escaped as .NET's
            // ArgumentException text after the app had started. The string is not quoted back: it may hold a password.
            ConfigurationOptions parsed;
            try
            {
                parsed = ConfigurationOptions.Parse(options.Configuration);
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail($"{path} is not a StackExchange.Redis connection string: {Sentence(ex)}");
            }

            if (parsed.EndPoints.Count == 0)
            {
                return ValidateOptionsResult.Fail($"{path} names no Redis server; start it with host:port, such as localhost:6379.");
            }
        }

        return ValidateOptionsResult.Success;
    }

    /// <summary>The exception's first line without the "(Parameter 'x')" that .NET appends.</summary>
    private static string Sentence(ArgumentException ex)
    {
        string message = ex.Message.Split('\n')[0].TrimEnd('\r');
        string parameter = $" (Parameter '{ex.ParamName}')";
        return ex.ParamName is not null && message.EndsWith(parameter, StringComparison.Ordinal) ? message[..^parameter.Length] : message;
    }
}
