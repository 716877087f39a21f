namespace EmailGuard;

/// <summary>
/// Folds letters that look like Latin ones onto them for the near-duplicate fingerprint, so a copy spelt with a
/// Cyrillic <c>а</c> or a Greek <c>ο</c> or an accented <c>é</c> shingles like the original.
/// </summary>
/// <remarks>
/// Applied to the normalizer's output, which is lower case already and has compatibility forms (full-width letters,
/// ligatures, dotless i) folded to plain letters. The table covers the look-alikes an attacker reaches for (Cyrillic and
/// Greek letters that render as Latin ones, Latin-1 accents); text in those
/// scripts still hashes consistently, it only shares hashes with Latin spellings that look the same.
/// </remarks>
internal static class HomoglyphFolding
{
    public static char Fold(char c)
    {
        if (c < '\u00C0')
        {
            return c;
        }

        return c switch
        {
            'à' or 'á' or 'â' or 'ã' or 'ä' or 'å' or 'ā' or 'ă' or 'ą' => 'a',
            'ç' or 'ć' or 'č' => 'c',
            'è' or 'é' or 'ê' or 'ë' or 'ē' or 'ė' or 'ę' or 'ě' => 'e',
            'ì' or 'í' or 'î' or 'ï' or 'ī' or 'į' => 'i',
            'ñ' or 'ń' or 'ň' => 'n',
            'ò' or 'ó' or 'ô' or 'õ' or 'ö' or 'ø' or 'ō' or 'ő' => 'o',
            'ù' or 'ú' or 'û' or 'ü' or 'ū' or 'ů' or 'ű' => 'u',
            'ý' or 'ÿ' => 'y',
            'ś' or 'š' => 's',
            'ź' or 'ż' or 'ž' => 'z',
            'ł' => 'l',

            // Cyrillic look-alikes (lower case, as the normalizer leaves them).
            'а' => 'a',
            'в' => 'b',
            'е' or 'ё' => 'e',
            'к' => 'k',
            'м' => 'm',
            'н' or 'һ' => 'h',
            'о' => 'o',
            'р' => 'p',
            'с' => 'c',
            'т' => 't',
            'у' => 'y',
            'х' => 'x',
            'і' or 'ї' => 'i',
            'ј' => 'j',
            'ѕ' => 's',
            'ԁ' => 'd',
            'ԛ' => 'q',
            'ԝ' => 'w',
            'ӏ' => 'l',

            // Greek look-alikes.
            'α' or 'ά' => 'a',
            'β' => 'b',
            'ε' or 'έ' => 'e',
            'η' => 'n',
            'ι' or 'ί' => 'i',
            'κ' => 'k',
            'ν' => 'v',
            'ο' or 'ό' => 'o',
            'ρ' => 'p',
            'τ' => 't',
            'υ' or 'ύ' => 'u',
            'χ' => 'x',
            'ω' => 'w',
            'ζ' => 'z',
            _ => c,
        };
    }
}
