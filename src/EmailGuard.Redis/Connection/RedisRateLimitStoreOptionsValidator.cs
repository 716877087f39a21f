using Microsoft.Extensions.Options;

namespace EmailGuard.Redis;

/// <summary>Checks the attributes of <see cref="RedisRateLimitStoreOptions"/> at startup, naming the setting.</summary>
[OptionsValidator]
internal sealed partial class RedisRateLimitStoreOptionsValidator : IValidateOptions<RedisRateLimitStoreOptions>;
