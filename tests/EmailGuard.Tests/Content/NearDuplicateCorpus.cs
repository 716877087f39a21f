namespace EmailGuard.Tests.Content;

/// <summary>
/// Mail for the near-duplicate measurements: a few hundred genuinely different business mails (no two share more
/// than half of either's sentences), the same mails under one company's long signature and legal footer (with a
/// closing phrase the sketch knows, and without one), short mails under such a footer, and mails that share a
/// company's long footer.
/// </summary>
internal static class NearDuplicateCorpus
{
    /// <summary>A signature and confidentiality notice of 80 words, opened by a closing phrase.</summary>
    public const string KnownFooter =
        "Kind regards,\nMaria Jensen\nSenior Account Manager, Northwind Traders GmbH\nHauptstrasse 5, 10115 Berlin, Germany\n"
        + "Phone +49 30 1234567 | www.northwind.example\n\nCONFIDENTIALITY NOTICE: This email and any attachments are confidential "
        + "and may be legally privileged. If you are not the intended recipient, please notify the sender immediately and delete "
        + "this message from your system. Any unauthorised copying, disclosure or distribution of the material in this email is "
        + "strictly forbidden. Northwind Traders GmbH is registered in Berlin under number HRB 12345.";

    /// <summary>A company block of 70 words with none of the closing phrases the sketch knows.</summary>
    public const string UnknownFooter =
        "Maria Jensen\nSenior Account Manager, Northwind Traders GmbH\nHauptstrasse 5, 10115 Berlin, Germany\n"
        + "Northwind Traders is a family owned wholesaler of office supplies, furniture and print services, serving more than "
        + "four thousand business customers across Europe since its founding. Our quality management is certified and our "
        + "warehouses run on renewable energy. Managing directors Peter Jensen and Laura Schmidt, commercial register Berlin, "
        + "privileged and proprietary content intended for the addressee only.";

    /// <summary>The first words of <see cref="UnknownFooter"/>, as an app would configure them as its own closing phrase.</summary>
    public const string UnknownFooterMarker = "Senior Account Manager, Northwind Traders GmbH";

    /// <summary>
    /// <paramref name="count"/> genuinely different mails: 3 to 6 sentences each from every category's pool, a subject
    /// of its first sentence's category, and no two mails sharing more than half of the smaller one's sentences.
    /// </summary>
    public static List<EmailContent> Distinct(int count, int seed = 23, string? footer = null, int minSentences = 3, int maxSentences = 6)
    {
        Random random = new(seed);
        var pool = BusinessMailCorpus.Categories.SelectMany((c, ci) => c.Sentences.Select((s, si) => (Category: ci, Id: (ci * 100) + si, Text: s))).ToArray();
        List<HashSet<int>> chosenSets = [];
        List<EmailContent> mails = [];
        for (int attempt = 0; mails.Count < count; attempt++)
        {
            if (attempt > count * 1000)
            {
                throw new InvalidOperationException($"Only {mails.Count} genuinely different mails found.");
            }

            var chosen = pool.OrderBy(_ => random.Next()).Take(random.Next(minSentences, maxSentences + 1)).ToArray();
            HashSet<int> ids = [.. chosen.Select(c => c.Id)];
            if (chosenSets.Any(other => other.Intersect(ids).Count() * 2 > Math.Min(other.Count, ids.Count)))
            {
                continue;
            }

            chosenSets.Add(ids);
            var (_, subjects, _) = BusinessMailCorpus.Categories[chosen[0].Category];
            string name = BusinessMailCorpus.FirstNames[random.Next(BusinessMailCorpus.FirstNames.Length)];
            string body = $"Hi {name},\n\n" + string.Join(' ', chosen.Select(c => BusinessMailCorpus.FillIn(c.Text, random))) + "\n\n" + (footer ?? "Best regards,\nThe team");
            mails.Add(new EmailContent { Subject = BusinessMailCorpus.FillIn(subjects[random.Next(subjects.Length)], random), TextBody = body });
        }

        return mails;
    }
}
