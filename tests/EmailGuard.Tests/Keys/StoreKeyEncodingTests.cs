namespace EmailGuard.Tests.Keys;

/// <summary>
/// Pins the store-key formats byte for byte: a key written by one version must name the same counter in the next,
/// so a change here is a breaking change for every app with counters in Redis.
/// </summary>
public sealed class StoreKeyEncodingTests
{
    [Theory]
    [InlineData("alice@example.com", "ff8d9819fc0e12bf0d24892e45987e24")]
    [InlineData("ä", "33e6d73fee82904c8d7afb78de1154d1")]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb924")]
    public void Hash_Value_IsFirst128BitsOfSha256AsLowerHex(string value, string expected)
        => StoreKeyEncoding.Hash(value).Should().Be(expected);

    [Fact]
    public void Hash_ValueLongerThanTheStackBuffer_IsTheSameSha256()
        => StoreKeyEncoding.Hash(new string('x', 2000)).Should().Be("5c0e0ea421571c300b5df6aec0a118b5");

    [Theory]
    [InlineData("acme", "acme")]
    [InlineData("Tenant-1_a.b", "Tenant-1_a.b")]
    [InlineData("Acme Corp", "h:a73cb4563ee2e72ce0ce805d444364ec")]
    [InlineData("a:b", "h:6783a31eabf68ccc0660f935c0826282")]
    [InlineData("", "h:e3b0c44298fc1c149afbf4c8996fb924")]
    public void EncodeId_Id_IsPlainOnlyForShortSafeIds(string id, string expected)
        => StoreKeyEncoding.EncodeId(id).Should().Be(expected);

    [Fact]
    public void EncodeId_LengthBound_KeepsSixtyFourCharactersAndHashesSixtyFive()
    {
        StoreKeyEncoding.EncodeId(new string('a', 64)).Should().Be(new string('a', 64));
        StoreKeyEncoding.EncodeId(new string('a', 65)).Should().Be("h:635361c48bb9eab14198e76ea8ab7f1a");
    }

    [Theory]
    [InlineData("a:b/c?d=1", "a:b/c?d=1")]
    [InlineData("user name", "h:7935f40392d23259311350fa8bf9f2f8")]
    [InlineData("ä", "h:33e6d73fee82904c8d7afb78de1154d1")]
    [InlineData("", "")]
    public void EncodeValue_Value_IsPlainForShortPrintableAscii(string value, string expected)
        => StoreKeyEncoding.EncodeValue(value).Should().Be(expected);

    [Fact]
    public void EncodeValue_LengthBound_KeepsOneHundredTwentyEightCharactersAndHashesMore()
    {
        StoreKeyEncoding.EncodeValue(new string('a', 128)).Should().Be(new string('a', 128));
        StoreKeyEncoding.EncodeValue(new string('a', 129)).Should().Be("h:c12cb024a2e5551cca0e08fce8f1c5e3");
    }

    [Fact]
    public void EncodeValue_ValueSpellingAnotherValuesHashedPart_IsHashedAgain()
    {
        // A victim's value that is hashed (too long, or with a space), and an attacker's plain value that spells its key part.
        string victim = "Victim Corp, Building 4";
        string hashed = StoreKeyEncoding.EncodeValue(victim);
        hashed.Should().StartWith(StoreKeyEncoding.HashedPrefix);

        string forged = StoreKeyEncoding.EncodeValue(hashed);

        forged.Should().NotBe(hashed, "a plain value must never name a hashed counter");
        forged.Should().Be(StoreKeyEncoding.HashedPrefix + StoreKeyEncoding.Hash(hashed));
        StoreKeyEncoding.EncodeValue("h:").Should().Be(StoreKeyEncoding.HashedPrefix + StoreKeyEncoding.Hash("h:"));
        StoreKeyEncoding.EncodeValue("H:abc").Should().Be("H:abc", "only the exact prefix is reserved");
    }

    [Fact]
    public void SendGuardKeys_Parties_KeepTheirKeyFormats()
    {
        SendGuardKeys keys = new(new SendGuardOptions());

        GuardAddress address = keys.Addresses.Get("Alice@Example.com");
        address.RecipientKey.Should().Be("send:r:ff8d9819fc0e12bf0d24892e45987e24");
        address.SenderKey.Should().Be("send:s:ff8d9819fc0e12bf0d24892e45987e24");
        address.DomainKey.Should().Be("send:d:example.com");
        keys.Tenants.Get("acme").Should().Be("send:t:acme");
        keys.Tenants.Get("Acme Corp").Should().Be("send:t:h:a73cb4563ee2e72ce0ce805d444364ec");
        keys.Users.Get("a:b").Should().Be("send:u:h:6783a31eabf68ccc0660f935c0826282");
        keys.Categories.Get("ACME").Should().Be("send:c:acme");
        keys.ClientIps.Get(System.Net.IPAddress.Parse("203.0.113.7")).Should().Be(("203.0.113.7", "send:ip:203.0.113.7"));
    }
}
