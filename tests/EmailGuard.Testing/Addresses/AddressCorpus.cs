namespace EmailGuard.Testing.Addresses;

/// <summary>
/// The equivalence corpus: spellings that deliver to one mailbox and must share one key, spellings that must not,
/// and hostile inputs that must be a clear InvalidAddress. Shared by the normalizer's unit tests, the send guard's
/// scenario tests (both stores) and the endpoint tests.
/// </summary>
public static class AddressCorpus
{
    /// <summary>Groups of spellings, each with the canonical address every spelling in it must normalize to.</summary>
    public static IReadOnlyList<(string Canonical, string[] Forms)> Equivalent { get; } =
    [
        ("victim@example.com",
        [
            "victim@example.com",
            "Victim@Example.COM",
            " victim@example.com ",
            "victim@example.com\t",
            "victim@example.com.",
            "victim@example.com\u3002",
            "victim@example.com\uFF0E",
            "victim@example.com\uFF61",
            "victim@example\u3002com",
            "victim@example\uFF0Ecom",
            "victim@example\uFF61com",
            "victim@example\u3002com\u3002",
            "victim@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45.\uFF43\uFF4F\uFF4D",
            "victim@\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25\uFF0E\uFF23\uFF2F\uFF2D",
            "victim@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\u3002\uFF43\uFF4F\uFF4D\u3002",
            "victim@example.c\uFF4Fm",
            "victim@\u212Fxample.com",
            "victim@\U0001D41Example.com",
            "\uFF56\uFF49\uFF43\uFF54\uFF49\uFF4D@example.com",
            "VIC\uFF34IM@example.com",
            "victim+tag@example.com",
            "victim+@example.com",
            "victim+a+b@example.com",
            "VICTIM+Newsletter@EXAMPLE.com\u3002",
            "victim\uFF0Btag@example.com",
        ]),
        ("kunde@xn--bcher-kva.example",
        [
            "kunde@b\u00FCcher.example",
            "kunde@B\u00DCCHER.example",
            "Kunde@xn--bcher-kva.example",
            "kunde@XN--BCHER-KVA.EXAMPLE",
            "kunde@xn--bcher-kva.example.",
            "kunde@bu\u0308cher.example",
            "kunde@\uFF42\u00FC\uFF43\uFF48\uFF45\uFF52.example",
            "kunde@b\u00FCcher\u3002example",
            "kunde@b\u00FCcher.example\uFF61",
            "kunde+x@B\u00DCCHER\uFF0EEXAMPLE",
        ]),
        ("johndoe@gmail.com",
        [
            "johndoe@gmail.com",
            "john.doe@gmail.com",
            "J.O.H.N.D.O.E@gmail.com",
            "John.Doe@GMAIL.COM",
            "johndoe@googlemail.com",
            "john.doe+spam@googlemail.com",
            "johndoe+x@gmail.com",
            "john.doe@gmail.com\u3002",
            "john.doe@\uFF47\uFF4D\uFF41\uFF49\uFF4C.com",
            "john.doe@googlemail\uFF0Ecom",
            "\uFF4A\uFF4F\uFF48\uFF4E\uFF0E\uFF44\uFF4F\uFF45@gmail.com",
            "jo.hn.d.oe+a.b@gmail.com",
        ]),
        ("alice@proton.me",
        [
            "alice@proton.me", "alice@protonmail.com", "alice@pm.me", "Alice+x@protonmail.ch", "alice@PM.ME\u3002",

            // Proton ignores '.', '-' and '_' in a user name (proton.me/support/change-username).
            "a.lice@proton.me", "al-ice@pm.me", "ali_ce@protonmail.com", "A.l-i_c.e+x@protonmail.ch",
        ]),
        ("bob@icloud.com", ["bob@icloud.com", "bob@me.com", "bob@mac.com", "bob+x@icloud.com", "BOB@ME.COM"]),
        ("base@yahoo.com", ["base@yahoo.com", "base-shopping@yahoo.com", "base-x@yahoo.com", "BASE-news@YAHOO.COM"]),
        ("user@fastmail.com", ["user@fastmail.com", "anything@user.fastmail.com", "user+x@fastmail.com", "other@USER.fastmail.com\u3002"]),
        ("name@outlook.com", ["name@outlook.com", "name+x@outlook.com", "Name@Outlook.com", "NAME+y@OUTLOOK\uFF0ECOM\u3002"]),
        ("name@hotmail.co.uk", ["name@hotmail.co.uk", "name+x@hotmail.co.uk", "Name+y@HOTMAIL.CO.UK\u3002", "name@hotmail\uFF0Eco.uk."]),
        ("name@hotmail.fr", ["name@hotmail.fr", "name+z@Hotmail.fr", "NAME@HOTMAIL.FR", "name+news@hotmail\uFF61fr"]),
        ("name@live.ca", ["name@live.ca", "NAME+x@live\uFF0Eca", "Name@Live.CA\u3002", "name+a+b@live.ca"]),
        ("ivan@yandex.com", ["ivan@yandex.com", "ivan@ya.ru", "ivan@yandex.ru", "ivan+x@yandex.by"]),

        // UTS #46 maps the capital sharp s to "ss" (a resolver sends the mail to strasse.de), not to the 'ß' lower case gives.
        ("kunde@strasse.de", ["kunde@strasse.de", "Kunde@STRASSE.DE", "kunde@STRA\u1E9EE.de", "kunde@stra\u1E9Ee.de\u3002"]),

        // ... and the lunate and mathematical final sigmas to 'σ', not to the final 'ς' NFKC gives.
        ("info@xn--4xaa.example",
        [
            "info@\u03C3\u03C3.example", "info@\u03A3\u03A3.example", "info@\u03F2\u03F2.example", "info@\U0001D6D3\U0001D6D3.example",
            "info@\U0001D7BB\u03C3.example",
        ]),

        // Fastmail: a host name cannot hold '_', so anything@joe-citizen.fastmail.com is joe_citizen's (fastmail.com/blog/two-address-resolving-additions).
        ("joe-citizen@fastmail.com", ["joe_citizen@fastmail.com", "a@joe-citizen.fastmail.com", "Joe_Citizen+x@FASTMAIL.COM", "b@JOE-CITIZEN.fastmail.com."]),

        // Source routes: Postfix resolves user%domain and site!user at its own domains by default; one to another host
        // is delivered at the domain after the '@' (Distinct below).
        ("mailbox@example.org",
        [
            "mailbox@example.org", "mailbox%example.org@example.org", "mailbox%example.org%example.org@example.org",
            "example.org!mailbox@example.org", "example.org!example.org!mailbox@example.org", "MailBox%Example.Org@example.org",
        ]),
    ];

    /// <summary>Pairs of valid addresses that are different mailboxes and must keep different keys.</summary>
    public static IReadOnlyList<(string A, string B)> Distinct { get; } =
    [
        ("john.doe@example.com", "johndoe@example.com"),
        ("john.doe@outlook.com", "johndoe@outlook.com"),
        ("john_doe@example.com", "johndoe@example.com"),
        ("john-doe@gmail.com", "johndoe@gmail.com"),
        ("victim@example.com", "victim2@example.com"),
        ("victim@example.com", "victim%example.com@relay.test"),
        ("victim@example.com", "example.com!victim@relay.test"),
        ("victim@example.com", "victim@example.co"),
        ("victim@example.com", "victim@sub.example.com"),
        ("victim@example.com", "victim@xn--exmple-cua.com"),
        ("name@outlook.com", "name@hotmail.com"),
        ("name@hotmail.com", "name@hotmail.co.uk"),
        ("name@hotmail.fr", "name@hotmail.de"),
        ("name@live.com", "name@live.ca"),
        ("user@fastmail.com", "user@fastmail.fm"),
        ("base-x@gmail.com", "base@gmail.com"),
        ("base-x@example.com", "base@example.com"),
        ("kunde@stra\u00DFe.de", "kunde@strasse.de"),
        ("bob@me.com", "bob@me.co"),
        ("alice@proton.me", "alice@proton.com"),
        ("user@a.user.fastmail.com", "user@fastmail.com"),
        ("info@\u03C2\u03C2.example", "info@\u03C3\u03C3.example"),
        ("50%off@example.com", "50@example.com"),
        ("hi!there@example.com", "there@example.com"),
    ];

    /// <summary>Hostile or malformed inputs that must be refused as InvalidAddress, never thrown on.</summary>
    public static IReadOnlyList<string> Invalid { get; } =
    [
        "victim@exa\u202Emple.com",
        "\u202Evictim@example.com",
        "victim@example.com\u200F",
        "victim@\u2067example.com",
        "vic\u200Btim@example.com",
        "victim@exa\u200Dmple.com",
        "victim@example.com\uFEFF",
        "victim@exa\u00ADmple.com",
        "victim@exa\u034Fmple.com",
        "victim@exa\uFE0Fmple.com",
        "victim@exa\u2060mple.com",
        "vic\uD800tim@example.com",
        "victim@ex\u0430mple.com",
        "victim@xn--exmple-4nf.com",
        "victim@\uFF45\uFF58\u0430\uFF4D\uFF50\uFF4C\uFF45.com",
        "victim@paypa\u04CF.com",
        "victim@xn--bcher-2pa.example",
        "victim@xn--.com",
        ".victim@example.com",
        "victim.@example.com",
        "vic..tim@example.com",
        "victim@.example.com",
        "victim@example..com",
        "victim@example.com..",
        "victim@example\u3002\u3002com",
        "victim@example.com\u3002\u3002",
        "victim@\u3002example.com",
        "victim@\uFF0E",
        "victim@.",
        "\"victim\"@example.com",
        "\"vic tim\"@example.com",
        "\"victim@x\"@example.com",
        "victim@[127.0.0.1]",
        "victim@[IPv6:::1]",
        "victim@127.0.0.1",
        "victim@1.2.3.4",
        "victim@" + new string('a', 64) + ".com",
        "victim@" + string.Join('.', Enumerable.Repeat(new string('a', 60), 5)) + ".com",
        new string('v', 65) + "@example.com",
        "vic\0tim@example.com",
        "victim@example.com\0",
        "victim@example.com\r\nBcc: everyone@example.com",
        "victim@ex_ample.com",
        "victim@-example.com",
        "victim@example-.com",
        "victim@localhost",
        "victim\uFF20example.com",
        "jos\u00E9@example.com",
        "Display Name <victim@example.com>",
        "two@at@example.com",
        "victim@",
        "@example.com",
        "   ",
        string.Empty,
        new string('a', 10_000) + "@example.com",
        "victim@" + new string('\uFDFA', 1_000),
    ];

    /// <summary>Every spelling in <see cref="Equivalent"/>, with its canonical address.</summary>
    public static IEnumerable<(string Canonical, string Form)> AllForms
        => Equivalent.SelectMany(g => g.Forms.Select(f => (g.Canonical, f)));
}
