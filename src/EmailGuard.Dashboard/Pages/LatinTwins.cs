using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// The letters of other scripts that render like an ASCII letter, each with the letter it reads as, for
/// <see cref="Lookalikes"/>: a word written wholly in them (<c>асе</c>, U+0430 U+0441 U+0435) reads as a Latin one
/// (<c>ace</c>) without mixing scripts, which is Unicode's "whole-script confusable" (UTS #39).
/// </summary>
/// <remarks>
/// Taken from Unicode's confusables data (UTS #39, <c>confusables.txt</c>): the letters of Cyrillic, Greek, Armenian,
/// Cherokee, Canadian syllabics and Lisu whose prototype there is one ASCII letter. A capital whose prototype is
/// <c>l</c> because it renders as <c>I</c> (Cyrillic <c>І</c> and <c>Ӏ</c>, Greek <c>Ι</c>, Lisu <c>ꓲ</c>) reads as
/// <c>I</c>; the small palochka <c>ӏ</c> reads as <c>l</c>, as in <c>аррӏе</c>. Left out: letters whose prototype is a
/// digit (Cyrillic <c>З</c> and <c>б</c>, Cherokee <c>Ꮞ</c>), a letter with a mark or two letters (<c>ё</c>,
/// <c>Ы</c>), or a small capital (Cyrillic <c>в к м н т</c>: <c>ʙ ĸ ᴍ ʜ ᴛ</c>); the letters of the other scripts with a
/// confusable or two (Hebrew <c>ס</c>, Arabic <c>ه</c>, Georgian <c>ყ</c>, Runic, Bamum), whose words rarely read as
/// Latin ones; and the scripts beyond the Basic Multilingual Plane (Lycian, Carian, Old Italic).
/// </remarks>
internal static class LatinTwins
{
    /// <summary>The ASCII letter <paramref name="rune"/> reads as, or <c>'\0'</c> when it has no twin.</summary>
    public static char Of(Rune rune) => rune.Value switch
    {
        // Cyrillic capitals.
        0x0405 => 'S', // Ѕ CYRILLIC CAPITAL LETTER DZE
        0x0406 => 'I', // І CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I
        0x0408 => 'J', // Ј CYRILLIC CAPITAL LETTER JE
        0x0410 => 'A', // А CYRILLIC CAPITAL LETTER A
        0x0412 => 'B', // В CYRILLIC CAPITAL LETTER VE
        0x0415 => 'E', // Е CYRILLIC CAPITAL LETTER IE
        0x041A => 'K', // К CYRILLIC CAPITAL LETTER KA
        0x041C => 'M', // М CYRILLIC CAPITAL LETTER EM
        0x041D => 'H', // Н CYRILLIC CAPITAL LETTER EN
        0x041E => 'O', // О CYRILLIC CAPITAL LETTER O
        0x0420 => 'P', // Р CYRILLIC CAPITAL LETTER ER
        0x0421 => 'C', // С CYRILLIC CAPITAL LETTER ES
        0x0422 => 'T', // Т CYRILLIC CAPITAL LETTER TE
        0x0423 => 'Y', // У CYRILLIC CAPITAL LETTER U
        0x0425 => 'X', // Х CYRILLIC CAPITAL LETTER HA
        0x042C => 'b', // Ь CYRILLIC CAPITAL LETTER SOFT SIGN
        0x0474 => 'V', // Ѵ CYRILLIC CAPITAL LETTER IZHITSA
        0x04AE => 'Y', // Ү CYRILLIC CAPITAL LETTER STRAIGHT U
        0x04C0 => 'I', // Ӏ CYRILLIC LETTER PALOCHKA
        0x050C => 'G', // Ԍ CYRILLIC CAPITAL LETTER KOMI SJE
        0x051A => 'Q', // Ԛ CYRILLIC CAPITAL LETTER QA
        0x051C => 'W', // Ԝ CYRILLIC CAPITAL LETTER WE

        // Cyrillic small letters (not в к м н т: confusables maps them to the small capitals ʙ ĸ ᴍ ʜ ᴛ).
        0x0430 => 'a', // а CYRILLIC SMALL LETTER A
        0x0433 => 'r', // г CYRILLIC SMALL LETTER GHE
        0x0435 => 'e', // е CYRILLIC SMALL LETTER IE
        0x043E => 'o', // о CYRILLIC SMALL LETTER O
        0x0440 => 'p', // р CYRILLIC SMALL LETTER ER
        0x0441 => 'c', // с CYRILLIC SMALL LETTER ES
        0x0443 => 'y', // у CYRILLIC SMALL LETTER U
        0x0445 => 'x', // х CYRILLIC SMALL LETTER HA
        0x0455 => 's', // ѕ CYRILLIC SMALL LETTER DZE
        0x0456 => 'i', // і CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
        0x0458 => 'j', // ј CYRILLIC SMALL LETTER JE
        0x0461 => 'w', // ѡ CYRILLIC SMALL LETTER OMEGA
        0x0475 => 'v', // ѵ CYRILLIC SMALL LETTER IZHITSA
        0x04AF => 'y', // ү CYRILLIC SMALL LETTER STRAIGHT U
        0x04BB => 'h', // һ CYRILLIC SMALL LETTER SHHA
        0x04BD => 'e', // ҽ CYRILLIC SMALL LETTER ABKHASIAN CHE
        0x04CF => 'l', // ӏ CYRILLIC SMALL LETTER PALOCHKA
        0x0501 => 'd', // ԁ CYRILLIC SMALL LETTER KOMI DE
        0x051B => 'q', // ԛ CYRILLIC SMALL LETTER QA
        0x051D => 'w', // ԝ CYRILLIC SMALL LETTER WE
        0xA647 => 'i', // ꙇ CYRILLIC SMALL LETTER IOTA

        // Greek capitals.
        0x037F => 'J', // Ϳ GREEK CAPITAL LETTER YOT
        0x0391 => 'A', // Α GREEK CAPITAL LETTER ALPHA
        0x0392 => 'B', // Β GREEK CAPITAL LETTER BETA
        0x0395 => 'E', // Ε GREEK CAPITAL LETTER EPSILON
        0x0396 => 'Z', // Ζ GREEK CAPITAL LETTER ZETA
        0x0397 => 'H', // Η GREEK CAPITAL LETTER ETA
        0x0399 => 'I', // Ι GREEK CAPITAL LETTER IOTA
        0x039A => 'K', // Κ GREEK CAPITAL LETTER KAPPA
        0x039C => 'M', // Μ GREEK CAPITAL LETTER MU
        0x039D => 'N', // Ν GREEK CAPITAL LETTER NU
        0x039F => 'O', // Ο GREEK CAPITAL LETTER OMICRON
        0x03A1 => 'P', // Ρ GREEK CAPITAL LETTER RHO
        0x03A4 => 'T', // Τ GREEK CAPITAL LETTER TAU
        0x03A5 => 'Y', // Υ GREEK CAPITAL LETTER UPSILON
        0x03A7 => 'X', // Χ GREEK CAPITAL LETTER CHI
        0x03D2 => 'Y', // ϒ GREEK UPSILON WITH HOOK SYMBOL
        0x03DC => 'F', // Ϝ GREEK LETTER DIGAMMA
        0x03F9 => 'C', // Ϲ GREEK CAPITAL LUNATE SIGMA SYMBOL
        0x03FA => 'M', // Ϻ GREEK CAPITAL LETTER SAN

        // Greek small letters.
        0x03B1 => 'a', // α GREEK SMALL LETTER ALPHA
        0x03B3 => 'y', // γ GREEK SMALL LETTER GAMMA
        0x03B9 => 'i', // ι GREEK SMALL LETTER IOTA
        0x03BD => 'v', // ν GREEK SMALL LETTER NU
        0x03BF => 'o', // ο GREEK SMALL LETTER OMICRON
        0x03C1 => 'p', // ρ GREEK SMALL LETTER RHO
        0x03C3 => 'o', // σ GREEK SMALL LETTER SIGMA
        0x03C5 => 'u', // υ GREEK SMALL LETTER UPSILON
        0x03F1 => 'p', // ϱ GREEK RHO SYMBOL
        0x03F2 => 'c', // ϲ GREEK LUNATE SIGMA SYMBOL
        0x03F3 => 'j', // ϳ GREEK LETTER YOT

        // Armenian.
        0x054D => 'U', // Ս ARMENIAN CAPITAL LETTER SEH
        0x054F => 'S', // Տ ARMENIAN CAPITAL LETTER TIWN
        0x0555 => 'O', // Օ ARMENIAN CAPITAL LETTER OH
        0x0563 => 'q', // գ ARMENIAN SMALL LETTER GIM
        0x0566 => 'q', // զ ARMENIAN SMALL LETTER ZA
        0x0570 => 'h', // հ ARMENIAN SMALL LETTER HO
        0x0578 => 'n', // ո ARMENIAN SMALL LETTER VO
        0x057C => 'n', // ռ ARMENIAN SMALL LETTER RA
        0x057D => 'u', // ս ARMENIAN SMALL LETTER SEH
        0x0581 => 'g', // ց ARMENIAN SMALL LETTER CO
        0x0584 => 'f', // ք ARMENIAN SMALL LETTER KEH
        0x0585 => 'o', // օ ARMENIAN SMALL LETTER OH

        // Cherokee.
        0x13A0 => 'D', // Ꭰ CHEROKEE LETTER A
        0x13A1 => 'R', // Ꭱ CHEROKEE LETTER E
        0x13A2 => 'T', // Ꭲ CHEROKEE LETTER I
        0x13A5 => 'i', // Ꭵ CHEROKEE LETTER V
        0x13A9 => 'Y', // Ꭹ CHEROKEE LETTER GI
        0x13AA => 'A', // Ꭺ CHEROKEE LETTER GO
        0x13AB => 'J', // Ꭻ CHEROKEE LETTER GU
        0x13AC => 'E', // Ꭼ CHEROKEE LETTER GV
        0x13B3 => 'W', // Ꮃ CHEROKEE LETTER LA
        0x13B7 => 'M', // Ꮇ CHEROKEE LETTER LU
        0x13BB => 'H', // Ꮋ CHEROKEE LETTER MI
        0x13BD => 'Y', // Ꮍ CHEROKEE LETTER MU
        0x13C0 => 'G', // Ꮐ CHEROKEE LETTER NAH
        0x13C2 => 'h', // Ꮒ CHEROKEE LETTER NI
        0x13C3 => 'Z', // Ꮓ CHEROKEE LETTER NO
        0x13CF => 'b', // Ꮟ CHEROKEE LETTER SI
        0x13D2 => 'R', // Ꮢ CHEROKEE LETTER SV
        0x13D4 => 'W', // Ꮤ CHEROKEE LETTER TA
        0x13D5 => 'S', // Ꮥ CHEROKEE LETTER DE
        0x13D9 => 'V', // Ꮩ CHEROKEE LETTER DO
        0x13DA => 'S', // Ꮪ CHEROKEE LETTER DU
        0x13DE => 'L', // Ꮮ CHEROKEE LETTER TLE
        0x13DF => 'C', // Ꮯ CHEROKEE LETTER TLI
        0x13E2 => 'P', // Ꮲ CHEROKEE LETTER TLV
        0x13E6 => 'K', // Ꮶ CHEROKEE LETTER TSO
        0x13E7 => 'd', // Ꮷ CHEROKEE LETTER TSU
        0x13F3 => 'G', // Ᏻ CHEROKEE LETTER YU
        0x13F4 => 'B', // Ᏼ CHEROKEE LETTER YV
        0xAB75 => 'i', // ꭵ CHEROKEE SMALL LETTER V
        0xAB81 => 'r', // ꮁ CHEROKEE SMALL LETTER HU
        0xAB83 => 'w', // ꮃ CHEROKEE SMALL LETTER LA
        0xAB93 => 'z', // ꮓ CHEROKEE SMALL LETTER NO
        0xABA9 => 'v', // ꮩ CHEROKEE SMALL LETTER DO
        0xABAA => 's', // ꮪ CHEROKEE SMALL LETTER DU
        0xABAF => 'c', // ꮯ CHEROKEE SMALL LETTER TLI

        // Canadian syllabics.
        0x142F => 'V', // ᐯ CANADIAN SYLLABICS PE
        0x144C => 'U', // ᑌ CANADIAN SYLLABICS TE
        0x146D => 'P', // ᑭ CANADIAN SYLLABICS KI
        0x146F => 'd', // ᑯ CANADIAN SYLLABICS KO
        0x1472 => 'b', // ᑲ CANADIAN SYLLABICS KA
        0x148D => 'J', // ᒍ CANADIAN SYLLABICS CO
        0x14AA => 'L', // ᒪ CANADIAN SYLLABICS MA
        0x1541 => 'x', // ᕁ CANADIAN SYLLABICS SAYISI YI
        0x157C => 'H', // ᕼ CANADIAN SYLLABICS NUNAVUT H
        0x157D => 'x', // ᕽ CANADIAN SYLLABICS HK
        0x1587 => 'R', // ᖇ CANADIAN SYLLABICS TLHI
        0x15AF => 'b', // ᖯ CANADIAN SYLLABICS AIVILIK B
        0x15B4 => 'F', // ᖴ CANADIAN SYLLABICS BLACKFOOT WE
        0x15C5 => 'A', // ᗅ CANADIAN SYLLABICS CARRIER GHO
        0x15DE => 'D', // ᗞ CANADIAN SYLLABICS CARRIER THE
        0x15EA => 'D', // ᗪ CANADIAN SYLLABICS CARRIER PE
        0x15F0 => 'M', // ᗰ CANADIAN SYLLABICS CARRIER GO
        0x15F7 => 'B', // ᗷ CANADIAN SYLLABICS CARRIER KHE

        // Lisu (Fraser).
        0xA4D0 => 'B', // ꓐ LISU LETTER BA
        0xA4D1 => 'P', // ꓑ LISU LETTER PA
        0xA4D2 => 'd', // ꓒ LISU LETTER PHA
        0xA4D3 => 'D', // ꓓ LISU LETTER DA
        0xA4D4 => 'T', // ꓔ LISU LETTER TA
        0xA4D6 => 'G', // ꓖ LISU LETTER GA
        0xA4D7 => 'K', // ꓗ LISU LETTER KA
        0xA4D9 => 'J', // ꓙ LISU LETTER JA
        0xA4DA => 'C', // ꓚ LISU LETTER CA
        0xA4DC => 'Z', // ꓜ LISU LETTER DZA
        0xA4DD => 'F', // ꓝ LISU LETTER TSA
        0xA4DF => 'M', // ꓟ LISU LETTER MA
        0xA4E0 => 'N', // ꓠ LISU LETTER NA
        0xA4E1 => 'L', // ꓡ LISU LETTER LA
        0xA4E2 => 'S', // ꓢ LISU LETTER SA
        0xA4E3 => 'R', // ꓣ LISU LETTER ZHA
        0xA4E6 => 'V', // ꓦ LISU LETTER HA
        0xA4E7 => 'H', // ꓧ LISU LETTER XA
        0xA4EA => 'W', // ꓪ LISU LETTER WA
        0xA4EB => 'X', // ꓫ LISU LETTER SHA
        0xA4EC => 'Y', // ꓬ LISU LETTER YA
        0xA4EE => 'A', // ꓮ LISU LETTER A
        0xA4F0 => 'E', // ꓰ LISU LETTER E
        0xA4F2 => 'I', // ꓲ LISU LETTER I
        0xA4F3 => 'O', // ꓳ LISU LETTER O
        0xA4F4 => 'U', // ꓴ LISU LETTER U
        _ => '\0',
    };
}
