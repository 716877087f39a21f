using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EmailGuard;

/// <summary>
/// Reloads the send guard's caps with the <c>EmailGuard:SendGuard</c> section, as the endpoint policies reload with
/// theirs: the changed section is bound and validated as at startup (the options factory, strict binding); a refused
/// change keeps the caps in force and logs each failure with its setting's path (error 3126); a taken one builds the new
/// caps into one <see cref="SendGuardCaps"/>, hands it to the guard in one reference write, and logs each changed cap
/// before and after (information 3128). The settings the guard reads only at start keep their start value, with
/// warning 3127 (or 3129, for a part of a cap that cannot change) naming the setting a reload changed.
/// </summary>
/// <remarks>
/// Not through <see cref="IOptionsMonitor{TOptions}"/>: it validates a reloaded section inside the configuration's
/// change callback and throws there, and its <see cref="IOptionsMonitor{TOptions}.CurrentValue"/> would then not be
/// what the guard applies (as for the endpoint options, which reload the same way).
/// </remarks>
internal sealed partial class SendGuardReload
{
    /// <summary>The settings below <c>EmailGuard:SendGuard</c> that are caps, which a reload applies.</summary>
    internal static readonly IReadOnlySet<string> Caps = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        nameof(SendGuardOptions.Global), nameof(SendGuardOptions.Tenant), nameof(SendGuardOptions.Sender),
        nameof(SendGuardOptions.Recipient), nameof(SendGuardOptions.RecipientDomain), nameof(SendGuardOptions.User),
        nameof(SendGuardOptions.ClientIp), nameof(SendGuardOptions.Category), nameof(SendGuardOptions.Categories),
        nameof(SendGuardOptions.Content), nameof(SendGuardOptions.TenantPools), nameof(SendGuardOptions.DefaultTenantPool),
    };

    private const string Root = SendGuardOptions.ConfigurationSectionName;

    private readonly SendGuardOptions _start;
    private readonly IOptionsFactory<SendGuardOptions> _factory;
    private readonly IConfigurationSection _section;
    private readonly ILogger _logger;
    private readonly bool _globalFixed;
    private readonly Action<SendGuardCaps> _apply;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string?> _startSettings;
    private Dictionary<string, string?> _lastSettings;
    private SendGuardOptions _applied;
    private SendGuardCaps _current;

    // The parts of the caps kept by the last reload (3129), each with the value it was given: a later reload warns again
    // only of what it changed anew, not at every reload while the configuration still holds the same refused change.
    private HashSet<string> _keptWarned = new(StringComparer.Ordinal);

    /// <param name="start">The options the guard started with.</param>
    /// <param name="caps">The caps built from them.</param>
    /// <param name="factory">Builds and validates the options again, as at startup.</param>
    /// <param name="configuration">The app's configuration, whose <c>EmailGuard:SendGuard</c> section is watched.</param>
    /// <param name="globalFixed">Whether the global rules are read only at start (the fair share's budgets are built from them).</param>
    /// <param name="apply">Puts new caps in force; called under this reloader's lock, so never twice at once.</param>
    /// <param name="logger">Logs reloads.</param>
    public SendGuardReload(
        SendGuardOptions start, SendGuardCaps caps, IOptionsFactory<SendGuardOptions> factory, IConfiguration configuration, bool globalFixed, Action<SendGuardCaps> apply, ILogger logger)
    {
        _start = start;
        _applied = start;
        _current = caps;
        _factory = factory;
        _section = configuration.GetSection(Root);
        _globalFixed = globalFixed;
        _apply = apply;
        _logger = logger;
        _startSettings = Read(_section);
        _lastSettings = _startSettings;

        // Lives as long as the guard, which lives as long as the app.
        ChangeToken.OnChange(_section.GetReloadToken, Reload);
    }

    /// <summary>The options whose caps are in force: those of the last reload taken, or the start's.</summary>
    public SendGuardOptions Applied => Volatile.Read(ref _applied);

    internal void Reload()
    {
        lock (_gate)
        {
            SendGuardOptions given;
            try
            {
                given = _factory.Create(Options.DefaultName);
            }
            catch (OptionsValidationException ex)
            {
                LogReloadRefused(_logger, LogValue.Of(string.Join(" ", ex.Failures)));
                return;
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
            {
                LogReloadRefused(_logger, LogValue.Of(ex.Message));
                return;
            }

            SendGuardCaps before = _current;
            if (!_section.AsEnumerable(makePathsRelative: true).Any() && ChangesCaps(before, given))
            {
                // Gone, not changed: a settings file removed, or one that failed to parse (the file provider empties
                // its data on a reload), leaves no setting, and taking that would lift every cap it held. Lists written
                // empty ("Rules": [], a key without a value) still lift them on purpose.
                LogReloadRefused(_logger, $"{Root}: no setting is left under it, as when a settings file is removed or fails to load; to lift every cap, write each dimension's Rules as an empty list.");
                return;
            }

            Dictionary<string, string?> settings = Read(_section);
            WarnStartOnly(settings);
            _lastSettings = settings;
            KeepFixedCaps(given);
            SendGuardCaps after = new(new SendGuardRules(given, _start), new TenantPoolRules(given, _logger));
            if (LogChanges(before, after))
            {
                _current = after;
                Volatile.Write(ref _applied, CapsOf(given));
                _apply(after);
            }
        }
    }

    /// <summary>Options holding only the caps of <paramref name="given"/>: what <see cref="Applied"/> shows, and a later reload keeps of them.</summary>
    private static SendGuardOptions CapsOf(SendGuardOptions given) => new()
    {
        Global = given.Global,
        Tenant = given.Tenant,
        Sender = given.Sender,
        Recipient = given.Recipient,
        RecipientDomain = given.RecipientDomain,
        User = given.User,
        ClientIp = given.ClientIp,
        Category = given.Category,
        Categories = given.Categories,
        Content = given.Content,
        TenantPools = given.TenantPools,
        DefaultTenantPool = given.DefaultTenantPool,
    };

    /// <summary>The section's settings, by path below it.</summary>
    private static Dictionary<string, string?> Read(IConfigurationSection section)
    {
        Dictionary<string, string?> settings = new(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, string?> pair in section.AsEnumerable(makePathsRelative: true))
        {
            if (pair.Value is not null)
            {
                settings[pair.Key] = pair.Value;
            }
        }

        return settings;
    }

    /// <summary>
    /// Warns of each setting other than a cap that this reload changed to other than its start value: the guard reads
    /// it only at start, so it keeps the start value, and the operator who changed it must hear that it did not apply.
    /// </summary>
    private void WarnStartOnly(Dictionary<string, string?> settings)
    {
        foreach (string path in settings.Keys.Union(_lastSettings.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase))
        {
            string top = path.Split(':', 2)[0];
            if (Caps.Contains(top))
            {
                continue;
            }

            string? now = settings.GetValueOrDefault(path);
            if (!string.Equals(now, _lastSettings.GetValueOrDefault(path), StringComparison.Ordinal)
                && !string.Equals(now, _startSettings.GetValueOrDefault(path), StringComparison.Ordinal))
            {
                LogStartOnlySettingChanged(_logger, LogValue.Of($"{Root}:{path}"));
            }
        }
    }

    /// <summary>
    /// Puts back in <paramref name="given"/> the parts of the caps that stay as they are, with warning 3129 for each a
    /// reload changed: the global rules when the fair share shares them, which pools there are (a decision keeps its
    /// pool by its place among them), and a default pool that is not one of them.
    /// </summary>
    private void KeepFixedCaps(SendGuardOptions given)
    {
        HashSet<string> kept = new(StringComparer.Ordinal);
        void Kept(string setting, string value, string reason)
        {
            string key = setting + "\n" + value;
            kept.Add(key);
            if (!_keptWarned.Contains(key))
            {
                LogCapKept(_logger, setting, reason);
            }
        }

        string globalGiven = Describe(SendGuardRules.Compile(given.Global));
        if (_globalFixed && !globalGiven.Equals(Describe(SendGuardRules.Compile(_applied.Global)), StringComparison.Ordinal))
        {
            Kept($"{Root}:{nameof(SendGuardOptions.Global)}", globalGiven, "EmailGuard:SendGuard:FairShare shares the global rules it started with");
        }

        if (_globalFixed)
        {
            given.Global = _applied.Global;
        }

        Dictionary<string, SendGuardDimensionOptions> pools = new(StringComparer.OrdinalIgnoreCase);
        foreach (TenantPool pool in _current.Pools.All)
        {
            string name = pool.Partition[TenantPoolRules.PartitionPrefix.Length..];
            if (given.TenantPools.TryGetValue(name, out SendGuardDimensionOptions? changed) && SendGuardRules.Compile(changed).Length != 0)
            {
                pools[name] = changed;
            }
            else
            {
                Kept($"{Root}:{nameof(SendGuardOptions.TenantPools)}:{LogValue.Of(name)}", "removed", "a pool the guard started with keeps its rules until a restart removes it");
                pools[name] = _applied.TenantPools.First(pair => string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
            }
        }

        foreach (KeyValuePair<string, SendGuardDimensionOptions> pair in given.TenantPools)
        {
            if (!pools.ContainsKey(pair.Key) && SendGuardRules.Compile(pair.Value).Length != 0)
            {
                Kept($"{Root}:{nameof(SendGuardOptions.TenantPools)}:{LogValue.Of(pair.Key)}", Describe(SendGuardRules.Compile(pair.Value)), "a pool added by a reload caps nothing until a restart");
            }
        }

        given.TenantPools = pools;
        if (given.DefaultTenantPool is { } defaultPool && !pools.ContainsKey(defaultPool))
        {
            Kept($"{Root}:{nameof(SendGuardOptions.DefaultTenantPool)}", defaultPool, "it names a pool the guard did not start with");
            given.DefaultTenantPool = _applied.DefaultTenantPool;
        }

        _keptWarned = kept;
    }

    /// <summary>
    /// Whether taking <paramref name="given"/> would change a cap of <paramref name="before"/>: a dimension's rules, or the
    /// default pool. Pools keep their rules whatever a reload says (<see cref="KeepFixedCaps"/>).
    /// </summary>
    private bool ChangesCaps(SendGuardCaps before, SendGuardOptions given)
        => Changes(before, new SendGuardCaps(new SendGuardRules(given, _start), before.Pools)).Count != 0
            || !string.Equals(given.DefaultTenantPool, _applied.DefaultTenantPool, StringComparison.OrdinalIgnoreCase);

    /// <summary>Logs each cap that differs between <paramref name="before"/> and <paramref name="after"/>.</summary>
    /// <returns>Whether any did.</returns>
    private bool LogChanges(SendGuardCaps before, SendGuardCaps after)
    {
        List<(string Setting, string Was, string Now)> changes = Changes(before, after);
        foreach ((string setting, string was, string now) in changes)
        {
            string path = LogValue.Of($"{Root}:{setting}"), shownWas = LogValue.Of(was), shownNow = LogValue.Of(now);
            LogCapChanged(_logger, path, shownWas, shownNow);
        }

        return changes.Count != 0;
    }

    /// <summary>Each cap that differs between <paramref name="before"/> and <paramref name="after"/>, by its setting below the section.</summary>
    private static List<(string Setting, string Was, string Now)> Changes(SendGuardCaps before, SendGuardCaps after)
    {
        List<(string Setting, string Was, string Now)> changes = [];
        void Compare(string setting, string was, string now)
        {
            if (!string.Equals(was, now, StringComparison.Ordinal))
            {
                changes.Add((setting, was, now));
            }
        }

        SendGuardRules old = before.Rules, rules = after.Rules;
        Compare(nameof(SendGuardOptions.Global), Describe(old.Global), Describe(rules.Global));
        Compare(nameof(SendGuardOptions.Tenant), Describe(old.Tenant), Describe(rules.Tenant));
        Compare(nameof(SendGuardOptions.Sender), Describe(old.Sender), Describe(rules.Sender));
        Compare(nameof(SendGuardOptions.Recipient), Describe(old.Recipient), Describe(rules.Recipient));
        Compare(nameof(SendGuardOptions.RecipientDomain), Describe(old.RecipientDomain), Describe(rules.RecipientDomain));
        Compare(nameof(SendGuardOptions.User), Describe(old.User), Describe(rules.User));
        Compare(nameof(SendGuardOptions.ClientIp), Describe(old.ClientIp), Describe(rules.ClientIp));
        Compare(nameof(SendGuardOptions.Category), Describe(old.Category), Describe(rules.Category));
        foreach (string category in old.Categories.Keys.Union(rules.Categories.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase))
        {
            Compare(
                $"{nameof(SendGuardOptions.Categories)}:{category}",
                old.Categories.TryGetValue(category, out RateLimitRule[]? was) ? Describe(was) : "none (the Category rules)",
                rules.Categories.TryGetValue(category, out RateLimitRule[]? now) ? Describe(now) : "none (the Category rules)");
        }

        Compare(nameof(SendGuardOptions.Content), Describe(old.Content), Describe(rules.Content));
        for (int i = 0; i < after.Pools.All.Count; i++)
        {
            TenantPool pool = after.Pools.All[i];
            Compare($"{nameof(SendGuardOptions.TenantPools)}:{pool.Name}", Describe(before.Pools.All[i].Rules), Describe(pool.Rules));
        }

        Compare(nameof(SendGuardOptions.DefaultTenantPool), before.Pools.Default?.Name ?? "none", after.Pools.Default?.Name ?? "none");
        return changes;
    }

    private static string Describe(RateLimitRule[] rules)
        => rules.Length == 0 ? "none" : string.Join(", ", rules.Select(static rule => rule.ToString()));
}
