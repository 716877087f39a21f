using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The keys and arguments of one acquire script: arrays for a multi-key acquire, or, for a single-key acquire (the
/// commonest call), its key and up to four integer arguments held inline, so that an acquire which goes out inside a
/// batch is written straight into the batch's arrays without arrays of its own.
/// </summary>
/// <remarks>
/// The inline arguments are kept as the integers they are and turned into <see cref="RedisValue"/>s only where they
/// are written: a batch compares every single-key member's arguments with the member's before it, and comparing
/// integers costs nothing next to comparing <see cref="RedisValue"/>s.
/// </remarks>
internal readonly struct RedisScriptCall
{
    private readonly RedisKey[]? _keys;
    private readonly RedisValue[]? _arguments;
    private readonly RedisKey _key;
    private readonly long _a0;
    private readonly long _a1;
    private readonly long _a2;
    private readonly long _a3;
    private readonly int _inlineArguments;

    /// <summary>A call with its own arrays.</summary>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    public RedisScriptCall(RedisKey[] keys, RedisValue[] arguments)
    {
        _keys = keys;
        _arguments = arguments;
    }

    /// <summary>A single-key call of three arguments.</summary>
    /// <param name="key">Its key.</param>
    /// <param name="a0">The first argument.</param>
    /// <param name="a1">The second argument.</param>
    /// <param name="a2">The third argument.</param>
    public RedisScriptCall(RedisKey key, long a0, long a1, long a2)
    {
        _key = key;
        (_a0, _a1, _a2) = (a0, a1, a2);
        _inlineArguments = 3;
    }

    /// <summary>A single-key call of four arguments.</summary>
    /// <param name="key">Its key.</param>
    /// <param name="a0">The first argument.</param>
    /// <param name="a1">The second argument.</param>
    /// <param name="a2">The third argument.</param>
    /// <param name="a3">The fourth argument.</param>
    public RedisScriptCall(RedisKey key, long a0, long a1, long a2, long a3)
    {
        _key = key;
        (_a0, _a1, _a2, _a3) = (a0, a1, a2, a3);
        _inlineArguments = 4;
    }

    /// <summary>How many keys the call has.</summary>
    public int KeyCount => _keys?.Length ?? 1;

    /// <summary>How many arguments the call has.</summary>
    public int ArgumentCount => _arguments?.Length ?? _inlineArguments;

    /// <summary>The first key: the one that names the call's hash slot.</summary>
    public RedisKey FirstKey => _keys is null ? _key : _keys[0];

    /// <summary>The keys as an array (a new one for a single-key call): for a call sent on its own.</summary>
    public RedisKey[] Keys => _keys ?? [_key];

    /// <summary>The arguments as an array (a new one for a single-key call): for a call sent on its own.</summary>
    public RedisValue[] Arguments => _arguments ?? (_inlineArguments == 3 ? [_a0, _a1, _a2] : [_a0, _a1, _a2, _a3]);

    /// <summary>Whether its key and arguments are held inline: a single-key call.</summary>
    public bool IsInline => _keys is null;

    /// <summary>
    /// Whether both calls are of one shape (single-key, or multi-key of as many keys) with the same arguments: a
    /// batch then writes them once.
    /// </summary>
    /// <param name="other">The other call.</param>
    /// <returns>True when the arguments are the same.</returns>
    public bool HasSameArguments(in RedisScriptCall other)
    {
        if (_keys is null || other._keys is null)
        {
            return _keys is null && other._keys is null && _inlineArguments == other._inlineArguments
                && _a0 == other._a0 && _a1 == other._a1 && _a2 == other._a2 && _a3 == other._a3;
        }

        if (_keys.Length != other._keys.Length || _arguments!.Length != other._arguments!.Length)
        {
            return false;
        }

        if (ReferenceEquals(_arguments, other._arguments))
        {
            // One array the store reuses for calls of the same rules (RedisAcquireArgumentCache).
            return true;
        }

        // A guard check repeats its rules' arguments from one message to the next: compared from the end, where the
        // rules' numbers are, a different rule set is told apart at once.
        for (int i = _arguments.Length - 1; i >= 0; i--)
        {
            if (_arguments[i] != other._arguments[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Writes the keys into a batch's keys at the given place.</summary>
    /// <param name="keys">The batch's keys.</param>
    /// <param name="keyAt">Where this call's keys start.</param>
    public void CopyKeysTo(RedisKey[] keys, int keyAt)
    {
        if (_keys is not null)
        {
            _keys.CopyTo(keys, keyAt);
        }
        else
        {
            keys[keyAt] = _key;
        }
    }

    /// <summary>Writes the keys and arguments into a batch's arrays at the given places.</summary>
    /// <param name="keys">The batch's keys.</param>
    /// <param name="keyAt">Where this call's keys start.</param>
    /// <param name="arguments">The batch's arguments.</param>
    /// <param name="argumentAt">Where this call's arguments start.</param>
    public void CopyTo(RedisKey[] keys, int keyAt, RedisValue[] arguments, int argumentAt)
    {
        if (_keys is not null)
        {
            _keys.CopyTo(keys, keyAt);
            _arguments!.CopyTo(arguments, argumentAt);
            return;
        }

        keys[keyAt] = _key;
        arguments[argumentAt] = _a0;
        arguments[argumentAt + 1] = _a1;
        arguments[argumentAt + 2] = _a2;
        if (_inlineArguments == 4)
        {
            arguments[argumentAt + 3] = _a3;
        }
    }
}
