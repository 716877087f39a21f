namespace EmailGuard;

/// <summary>What the signature check made of a tag set that names a party.</summary>
internal enum FeedbackTagVerdict
{
    /// <summary>The signature does not verify under any listed key (or is not one): the default, the safe answer.</summary>
    Invalid,

    /// <summary>The tags carry no signature.</summary>
    Unsigned,

    /// <summary>One of the listed keys signed exactly these tags.</summary>
    Verified,
}
