using EmailGuard.Testing.Time;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// The token bucket's guarantee, on random arrivals: over any interval of length t, at most burst + rate × t permits.
public abstract partial class RateLimitStoreContractTests
{
    [Theory]
    [InlineData(1, 10, 1_000, 5)]
    [InlineData(2, 14, 1_000, 14)]
    [InlineData(3, 3, 1_000, 20)]
    public async Task Acquire_TokenBucketRandomArrivals_NeverAdmitsMoreThanBurstPlusRateTimesT(int seed, long rate, long periodMs, long burst)
    {
        // Arrange: demand averages several times the rate, so the bucket is empty most of the time.
        Random random = new(seed);
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RealTimePacer pacer = new(time);
        RateLimitRule rule = RateLimitRule.TokenBucket(rate, TimeSpan.FromMilliseconds(periodMs), burst);
        long intervalUs = rule.EmissionIntervalMicroseconds;
        string key = NewKey($"bucket-property-{seed}");
        RateLimitRequest[] request = new RateLimitRequest[1];
        RateLimitEntry[] result = new RateLimitEntry[1];
        List<(long AtMs, long Cost)> admitted = [];
        int denials = 0;

        // The model, a continuous leaky bucket (the other classic form of GCRA): a level in µs that drains with time.
        long levelUs = 0;
        long lastMs = Start.ToUnixTimeMilliseconds();

        // Act
        for (int op = 0; op < 1_500; op++)
        {
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 5) == 0 ? random.Next(0, 600) : random.Next(0, 40)));
            pacer.KeepUp();
            long cost = random.Next(1, (int)Math.Min(burst, 6) + 1);
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            levelUs = Math.Max(0, levelUs - ((now - lastMs) * 1000));
            lastMs = now;
            request[0] = new RateLimitRequest(key, rule, cost);
            RateLimitDecision decision = await store.AcquireAsync(request, result);

            bool expected = levelUs + (cost * intervalUs) <= burst * intervalUs;
            decision.IsAllowed.Should().Be(expected, "operation {0} at {1} ms with cost {2} and a level of {3} µs", op, now, cost, levelUs);
            if (expected)
            {
                levelUs += cost * intervalUs;
                admitted.Add((now, cost));
                result[0].Count.Should().Be((levelUs + intervalUs - 1) / intervalUs, "operation {0}", op);
            }
            else
            {
                denials++;

                // The retry-after is exact: the level has drained enough then, and not a millisecond earlier.
                long waitUs = levelUs + (cost * intervalUs) - (burst * intervalUs);
                decision.RetryAfter.Should().Be(TimeSpan.FromMilliseconds((waitUs + 999) / 1000), "operation {0}", op);
            }
        }

        // Assert: every interval between two admissions (the tightest ones) holds at most burst + rate × t.
        admitted.Count.Should().BeGreaterThan(100, "the bucket must not deny nearly everything");
        denials.Should().BeGreaterThan(100, "the test must actually push the bucket against its rate");
        string? violation = null;
        for (int left = 0; left < admitted.Count && violation is null; left++)
        {
            long sum = 0;
            for (int right = left; right < admitted.Count; right++)
            {
                sum += admitted[right].Cost;
                long t = admitted[right].AtMs - admitted[left].AtMs;

                // sum <= burst + rate × t / period, in integers.
                if (sum * periodMs > (burst * periodMs) + (rate * t))
                {
                    violation = $"admissions {left}..{right} over {t} ms took {sum} permits";
                    break;
                }
            }
        }

        violation.Should().BeNull();
    }
}
