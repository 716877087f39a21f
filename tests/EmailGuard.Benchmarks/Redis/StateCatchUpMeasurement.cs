using System.Diagnostics;
using System.Globalization;
using EmailGuard.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// What keeping a large blocklist current costs on Redis: suppressions written one by one through the lists API (as
/// bounces arrive), each followed by this instance's reload, with the store reporting its changes (the catch-up) and
/// with it answering none (every reload loads the whole state, as before). Both in one run on one Redis, in alternating
/// rounds, so only the ratio is compared.
/// </summary>
/// <remarks>Usage: <c>state-catchup [existing entries, default 100000] [suppressions per round, default 50] [rounds, default 3]</c>.</remarks>
internal static class StateCatchUpMeasurement
{
    public static async Task<int> RunAsync(string[] args)
    {
        int existing = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        int perRound = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
        int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        RedisConnection connection = new(redis.Multiplexer, redis.Prefix);
        RedisEmailGuardStateStore store = new(connection, TimeProvider.System);

        Console.WriteLine($"writing {existing:N0} suppressions ...");
        for (int offset = 0; offset < existing; offset += 1_000)
        {
            await Task.WhenAll(Enumerable.Range(offset, Math.Min(1_000, existing - offset)).Select(i => store.UpsertListEntryAsync(new EmailGuardListEntry
            {
                Kind = EmailGuardListKind.Blocklist,
                PartyType = EmailGuardPartyType.Recipient,
                Value = $"bounced.{i}@example-domain.com",
                Reason = EmailFeedbackSuppressionReasons.HardBounce,
                CreatedBy = "emailguard:feedback:ses",
                CreatedAt = DateTimeOffset.UtcNow,
            }, CancellationToken.None).AsTask()));
        }

        IOptions<SendGuardOptions> options = Options.Create(new SendGuardOptions());
        GuardStateCache catchUp = new(store, options, TimeProvider.System);
        GuardStateCache whole = new(new NoChangesStateStore(store), options, TimeProvider.System);
        await catchUp.StartRefresh();
        await whole.StartRefresh();
        EmailGuardLists catchUpLists = new(catchUp, options, TimeProvider.System);
        EmailGuardLists wholeLists = new(whole, options, TimeProvider.System);

        Console.WriteLine($"{existing:N0} suppressions; each round lists {perRound} more through each instance, each followed by that instance's reload");
        Console.WriteLine("round | catch-up ms/suppression | whole-load ms/suppression | ratio");
        int next = existing;
        List<double> ratios = [];
        for (int round = 0; round < rounds; round++)
        {
            double byChanges = await TimeAsync(catchUpLists, perRound, () => next++);
            double byLoads = await TimeAsync(wholeLists, perRound, () => next++);
            ratios.Add(byLoads / byChanges);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{round,5} | {byChanges,23:F2} | {byLoads,25:F2} | {byLoads / byChanges,5:F0}x"));
        }

        ratios.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median: a suppression costs the writing instance {ratios[ratios.Count / 2]:F0}x less to apply by changes; full loads by the catch-up instance: {catchUp.FullLoads}, by the other: {whole.FullLoads}"));
        IServer server = redis.Multiplexer.GetServers()[0];
        foreach (RedisKey key in server.Keys(pattern: redis.Prefix + "*", pageSize: 1_000))
        {
            await redis.Database.KeyDeleteAsync(key);
        }

        return 0;
    }

    private static async Task<double> TimeAsync(EmailGuardLists lists, int count, Func<int> next)
    {
        Stopwatch watch = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"bounced.{next()}@example-domain.com", EmailFeedbackSuppressionReasons.HardBounce);
        }

        return watch.Elapsed.TotalMilliseconds / count;
    }
}
