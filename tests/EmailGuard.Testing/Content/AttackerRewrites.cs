using System.Globalization;
using System.Text;

namespace EmailGuard.Testing.Content;

/// <summary>How an attacker rewrites each copy of one text so that no two copies are the same text.</summary>
public enum RewriteKind
{
    /// <summary>Four words or phrases swapped for synonyms.</summary>
    Synonyms,

    /// <summary>The sentences in a random order.</summary>
    ReorderedSentences,

    /// <summary>One random sentence inserted at a random place.</summary>
    InsertedSentence,

    /// <summary>Three words replaced by other words.</summary>
    WordsChanged,

    /// <summary>A fifth of the letters that have a Cyrillic look-alike spelt with it.</summary>
    Homoglyphs,

    /// <summary>All of the above at once, with three synonym swaps.</summary>
    Combined,
}

/// <summary>
/// The rewriting an attacker applies per copy to escape an exact fingerprint, and phishing texts to rewrite: the
/// purchase-order incident's injected note and a few others. Seeded, so every store sees the same copies.
/// </summary>
public static class AttackerRewrites
{
    /// <summary>The note the purchase-order attacker injected into the "share purchase order" template.</summary>
    public const string PurchaseOrderNote =
        "Important notice from our accounts department. Due to an internal audit our bank details have changed and all open invoices "
        + "must be paid to the new account. Please verify your supplier account within one day at http://vendor-verify.example/login "
        + "to avoid a suspension of payments. Orders will not be released until your details are confirmed. "
        + "Contact our finance team if you have any questions about this change.";

    /// <summary>Phishing texts of the kinds a hijacked sending feature carries, the purchase-order note first.</summary>
    public static readonly string[] PhishingTexts =
    [
        PurchaseOrderNote,
        "Your mailbox has reached its storage limit and incoming messages are being held. To keep receiving email you must "
            + "upgrade your quota today at https://mail-quota.example/upgrade using your current password. Accounts that are not "
            + "upgraded within two days will be closed and all stored messages will be deleted. We apologise for the inconvenience.",
        "We detected an unusual sign in attempt on your payroll account from a new device. For your protection the account has "
            + "been locked and your next salary payment is on hold. Please confirm your identity and your bank details at "
            + "https://payroll-secure.example/confirm as soon as possible. If you do not confirm, the payment will be cancelled.",
        "A shared document is waiting for your signature. The contract must be signed before the end of the week or the offer "
            + "expires. Open the secure document portal at https://docs-sign.example/view and sign in with your company email "
            + "account to review the terms. Please treat this request as confidential and do not forward it.",
        "Congratulations, your company has been selected for a supplier rebate on last year's orders. To receive the refund "
            + "please complete the short payment form at https://rebate-claim.example/form and enter the card used for your "
            + "purchases. The offer is only valid for the first fifty suppliers who respond, so act quickly.",
    ];

    private static readonly Dictionary<string, string[]> s_synonyms = new(StringComparer.Ordinal)
    {
        ["Important"] = ["Urgent", "Critical", "Essential"],
        ["notice"] = ["message", "announcement", "update"],
        ["department"] = ["team", "office", "division"],
        ["audit"] = ["review", "inspection", "check"],
        ["changed"] = ["been updated", "been replaced", "moved"],
        ["open"] = ["outstanding", "pending", "unpaid"],
        ["invoices"] = ["bills", "payments", "statements"],
        ["paid"] = ["settled", "transferred", "sent"],
        ["verify"] = ["confirm", "validate", "update"],
        ["avoid"] = ["prevent", "stop", "escape"],
        ["suspension"] = ["freeze", "hold", "block"],
        ["released"] = ["processed", "shipped", "dispatched"],
        ["confirmed"] = ["verified", "validated", "checked"],
        ["Contact"] = ["Email", "Call", "Reach"],
        ["questions"] = ["concerns", "queries", "doubts"],
        ["storage"] = ["space", "capacity", "quota"],
        ["held"] = ["blocked", "delayed", "queued"],
        ["upgrade"] = ["extend", "increase", "raise"],
        ["closed"] = ["disabled", "deactivated", "removed"],
        ["deleted"] = ["erased", "lost", "purged"],
        ["unusual"] = ["suspicious", "strange", "unexpected"],
        ["locked"] = ["frozen", "suspended", "blocked"],
        ["payment"] = ["transfer", "deposit", "payout"],
        ["confirm"] = ["verify", "validate", "prove"],
        ["cancelled"] = ["voided", "stopped", "withdrawn"],
        ["waiting"] = ["pending", "ready", "awaiting"],
        ["expires"] = ["lapses", "ends", "is withdrawn"],
        ["review"] = ["read", "check", "examine"],
        ["selected"] = ["chosen", "picked", "approved"],
        ["receive"] = ["claim", "collect", "get"],
        ["complete"] = ["fill in", "submit", "finish"],
        ["quickly"] = ["fast", "now", "today"],
    };

    private static readonly string[] s_fillerSentences =
    [
        "We value our long partnership with you.", "This message was generated by our finance system.", "Thank you for your cooperation in this matter.",
        "Our office hours are Monday to Friday.", "Please keep this email for your records.", "We appreciate your prompt attention.",
        "The weather has delayed some deliveries this week.", "Our new catalogue will be published soon.", "Have a pleasant day.",
        "We are committed to the security of our partners.", "Several suppliers have already completed this step.", "This is an automated reminder.",
    ];

    private static readonly string[] s_randomWords = ["blue", "river", "quiet", "seven", "market", "garden", "window", "copper", "silent", "harbor", "velvet", "orbit"];

    /// <summary>Rewrites <paramref name="text"/> the <paramref name="kind"/> way, choosing with <paramref name="random"/>.</summary>
    public static string Rewrite(string text, RewriteKind kind, Random random)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(random);
        return kind switch
        {
            RewriteKind.Synonyms => SwapSynonyms(text, 4, random),
            RewriteKind.ReorderedSentences => Reorder(text, random),
            RewriteKind.InsertedSentence => Insert(text, random),
            RewriteKind.WordsChanged => ChangeWords(text, 3, random),
            RewriteKind.Homoglyphs => Homoglyphs(text, 0.2, random),
            _ => Homoglyphs(Insert(Reorder(SwapSynonyms(text, 3, random), random), random), 0.2, random),
        };
    }

    private static string SwapSynonyms(string text, int swaps, Random random)
    {
        List<string> words = [.. text.Split(' ')];
        List<int> candidates = [.. Enumerable.Range(0, words.Count).Where(i => s_synonyms.ContainsKey(Bare(words[i])))];
        foreach (int i in candidates.OrderBy(_ => random.Next()).Take(swaps))
        {
            string bare = Bare(words[i]);
            string[] options = s_synonyms[bare];
            words[i] = string.Concat(options[random.Next(options.Length)], words[i].AsSpan(bare.Length));
        }

        return string.Join(' ', words);
    }

    private static string Reorder(string text, Random random)
    {
        string[] sentences = Sentences(text);
        string[] shuffled = [.. sentences.OrderBy(_ => random.Next())];
        if (shuffled.SequenceEqual(sentences) && shuffled.Length > 1)
        {
            (shuffled[0], shuffled[^1]) = (shuffled[^1], shuffled[0]);
        }

        return string.Join(' ', shuffled);
    }

    private static string Insert(string text, Random random)
    {
        List<string> sentences = [.. Sentences(text)];
        StringBuilder sentence = new(s_fillerSentences[random.Next(s_fillerSentences.Length)].TrimEnd('.'));
        sentence.Append(CultureInfo.InvariantCulture, $" and {s_randomWords[random.Next(s_randomWords.Length)]} {s_randomWords[random.Next(s_randomWords.Length)]}.");
        sentences.Insert(random.Next(sentences.Count + 1), sentence.ToString());
        return string.Join(' ', sentences);
    }

    private static string ChangeWords(string text, int changes, Random random)
    {
        string[] words = text.Split(' ');
        for (int n = 0; n < changes; n++)
        {
            int i = random.Next(words.Length);
            words[i] = s_randomWords[random.Next(s_randomWords.Length)];
        }

        return string.Join(' ', words);
    }

    private static string Homoglyphs(string text, double share, Random random)
    {
        StringBuilder builder = new(text.Length);
        foreach (char c in text)
        {
            char look = c switch { 'a' => 'а', 'e' => 'е', 'o' => 'о', 'p' => 'р', 'c' => 'с', 'x' => 'х', 'y' => 'у', _ => c };
            builder.Append(look != c && random.NextDouble() < share ? look : c);
        }

        return builder.ToString();
    }

    private static string[] Sentences(string text) => text.Split(". ", StringSplitOptions.RemoveEmptyEntries).Select(s => s.EndsWith('.') ? s : s + ".").ToArray();

    private static string Bare(string word) => word.TrimEnd('.', ',', ';', ':');
}
