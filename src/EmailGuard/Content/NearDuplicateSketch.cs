using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace EmailGuard;

/// <summary>
/// The near-duplicate fingerprint: MinHash over the word shingles of a normalized text (<see cref="ContentNormalizer"/>),
/// banded into a few 128-bit band hashes. Two texts share a band hash when all the band's MinHash values agree, which
/// happens with probability J^rows for texts whose shingle sets have Jaccard similarity J. Only the band hashes leave
/// this class; word and shingle hashes live in a pooled buffer.
/// </summary>
/// <remarks>
/// Words are folded (<see cref="HomoglyphFolding"/>) and hashed once; a shingle is <see cref="ShingleWords"/>
/// consecutive words; the text's closing boilerplate is cut off first (<see cref="ContentBoilerplate"/>). At most
/// <see cref="MaxShingles"/> shingles are read, which bounds the work per check: the first two thousand words tell one
/// text from another, and padding a copy with more text is the same dilution however it is placed.
/// </remarks>
internal sealed class NearDuplicateSketch
{
    /// <summary>The most shingles read from one text.</summary>
    public const int MaxShingles = 2048;

    /// <summary>The longest tail a closing phrase may cut off: a signature and a legal footer, not a message.</summary>
    public const int MaxFooterWords = 200;

    /// <summary>The length of one band hash in bytes.</summary>
    public const int BandHashBytes = 16;

    /// <summary>The longest partition: <c>nd</c>, two digits, <c>:</c> and 22 characters of hash.</summary>
    public const int PartitionLength = 27;

    /// <summary>The number of words in a shingle, chosen by measurement (docs/content.md).</summary>
    public const int DefaultShingleWords = 2;

    private readonly ulong[] _seeds;
    private readonly Vector256<ulong>[] _seedVectors;
    private readonly int _rows;
    private readonly int _minWords;
    private readonly ulong[][] _footerMarkers;

    public NearDuplicateSketch(int bands, int rowsPerBand, int minWords, int shingleWords = DefaultShingleWords, IEnumerable<string>? footerMarkers = null)
    {
        _footerMarkers = ContentBoilerplate.Compile(footerMarkers ?? []);
        Bands = bands;
        _rows = rowsPerBand;
        _minWords = Math.Max(minWords, shingleWords);
        ShingleWords = shingleWords;
        _seeds = new ulong[bands * rowsPerBand];
        ulong[] padded = new ulong[(_seeds.Length + 3) / 4 * 4];
        for (int i = 0; i < padded.Length; i++)
        {
            // Fixed seeds: every instance, and every version, must compute the same band hashes for the same text.
            padded[i] = Mix(0x9E3779B97F4A7C15UL * (ulong)(i + 1));
        }

        padded.AsSpan(0, _seeds.Length).CopyTo(_seeds);
        _seedVectors = MemoryMarshal.Cast<ulong, Vector256<ulong>>(padded).ToArray();
    }

    public NearDuplicateSketch(NearDuplicateContentOptions options)
        : this(options.Bands, options.RowsPerBand, options.MinWords, DefaultShingleWords, options.FooterMarkers)
    {
    }

    /// <summary>Gets the number of band hashes a text gets.</summary>
    public int Bands { get; }

    /// <summary>
    /// Gets a value indicating whether the MinHash values are computed four lanes at a time: where the CPU multiplies
    /// 64-bit lanes (AVX-512 DQ/VL); elsewhere the emulated multiply would be slower than scalar code. Both compute the
    /// same values; tests set it to compare them.
    /// </summary>
    internal bool UseVectors { get; init; } = Avx512DQ.VL.IsSupported;

    /// <summary>Gets the number of words in a shingle.</summary>
    public int ShingleWords { get; }

    /// <summary>
    /// Writes <see cref="Bands"/> x <see cref="BandHashBytes"/> bytes of band hashes of <paramref name="normalized"/>.
    /// </summary>
    /// <returns>False, with nothing written, when the text has fewer words than the minimum before its boilerplate.</returns>
    public bool TryCompute(ReadOnlySpan<char> normalized, Span<byte> bandHashes)
    {
        // Words past this many can move neither the shingles read nor where the boilerplate starts within them.
        int readWords = MaxShingles + ShingleWords - 1 + MaxFooterWords;
        ulong[] words = ArrayPool<ulong>.Shared.Rent(readWords + 1);
        try
        {
            int count = HashWords(normalized, words.AsSpan(0, readWords + 1));
            int kept = count > readWords ? count : ContentBoilerplate.BodyEnd(words.AsSpan(0, count), _minWords, MaxFooterWords, _footerMarkers);
            if (kept < _minWords)
            {
                return false;
            }

            int shingles = Math.Min(kept - ShingleWords + 1, MaxShingles);
            Span<Vector256<ulong>> minVectors = stackalloc Vector256<ulong>[_seedVectors.Length];
            Span<ulong> mins = MemoryMarshal.Cast<Vector256<ulong>, ulong>(minVectors);
            mins.Fill(ulong.MaxValue);
            if (UseVectors)
            {
                MinHashVectorized(words, shingles, minVectors);
            }
            else
            {
                MinHash(words, shingles, mins);
            }

            Span<byte> band = stackalloc byte[sizeof(int) + (_rows * sizeof(ulong))];
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            for (int b = 0; b < Bands; b++)
            {
                // The band's index is part of its hash, so equal values in two different bands are two keys.
                BinaryPrimitives.WriteInt32LittleEndian(band, b);
                for (int r = 0; r < _rows; r++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(band[(sizeof(int) + (r * sizeof(ulong)))..], mins[(b * _rows) + r]);
                }

                SHA256.HashData(band, hash);
                hash[..BandHashBytes].CopyTo(bandHashes[(b * BandHashBytes)..]);
            }

            return true;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(words);
        }
    }

    /// <summary>The partition of band <paramref name="band"/>: <c>nd</c>, the band's index, <c>:</c> and its hash in base64url.</summary>
    public static string Partition(int band, ReadOnlySpan<byte> hash)
    {
        Span<char> text = stackalloc char[PartitionLength];
        "nd".CopyTo(text);
        int written = 2;
        band.TryFormat(text[written..], out int digits, default, CultureInfo.InvariantCulture);
        written += digits;
        text[written++] = ':';
        written += Base64Url.EncodeToChars(hash, text[written..]);
        return new string(text[..written]);
    }

    private ulong Shingle(ulong[] words, int i)
    {
        ulong shingle = words[i];
        for (int t = 1; t < ShingleWords; t++)
        {
            shingle ^= BitOperations.RotateLeft(words[i + t], 21 * t);
        }

        return shingle;
    }

    private void MinHash(ulong[] words, int shingles, Span<ulong> mins)
    {
        ReadOnlySpan<ulong> seeds = _seeds;
        for (int i = 0; i < shingles; i++)
        {
            ulong shingle = Shingle(words, i);
            for (int j = 0; j < seeds.Length; j++)
            {
                ulong value = Mix(shingle ^ seeds[j]);
                if (value < mins[j])
                {
                    mins[j] = value;
                }
            }
        }
    }

    /// <summary>The same values as <see cref="MinHash"/>, four seeds at a time where the CPU multiplies 64-bit lanes.</summary>
    private void MinHashVectorized(ulong[] words, int shingles, Span<Vector256<ulong>> mins)
    {
        ReadOnlySpan<Vector256<ulong>> seeds = _seedVectors;
        for (int i = 0; i < shingles; i++)
        {
            Vector256<ulong> shingle = Vector256.Create(Shingle(words, i));
            for (int j = 0; j < seeds.Length; j++)
            {
                mins[j] = Vector256.Min(mins[j], Mix(shingle ^ seeds[j]));
            }
        }
    }

    private static Vector256<ulong> Mix(Vector256<ulong> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 33);
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= Vector256.ShiftRightLogical(x, 33);
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= Vector256.ShiftRightLogical(x, 33);
        return x;
    }

    /// <summary>The hashes of the words of <paramref name="text"/> (words separated by single spaces), folded.</summary>
    internal static ulong[] HashWords(string text)
    {
        ulong[] words = new ulong[(text.Length / 2) + 1];
        return words[..HashWords(text, words)];
    }

    /// <summary>Hashes the words of <paramref name="text"/> into <paramref name="words"/>, as many as fit.</summary>
    /// <returns>The number of words written.</returns>
    private static int HashWords(ReadOnlySpan<char> text, Span<ulong> words)
    {
        int count = 0;
        int i = 0;
        while (i < text.Length && count < words.Length)
        {
            if (text[i] == ' ')
            {
                i++;
                continue;
            }

            // FNV-1a over the folded characters, then a finalizer to spread it over all 64 bits.
            ulong hash = 0xCBF29CE484222325UL;
            while (i < text.Length && text[i] != ' ')
            {
                hash = (hash ^ HomoglyphFolding.Fold(text[i])) * 0x100000001B3UL;
                i++;
            }

            words[count++] = Mix(hash);
        }

        return count;
    }

    /// <summary>The MurmurHash3 64-bit finalizer.</summary>
    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= x >> 33;
        return x;
    }
}
