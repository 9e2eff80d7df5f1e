using System.Runtime.CompilerServices;

namespace SemPPL.Data.Random;

/// <summary>Independent random streams keyed by purpose, so that e.g. the split never shifts the augmentation draws.</summary>
public enum RngStream : ulong
{
    Split = 1,
    UnlabelledOrder = 2,
    LabelledOrder = 3,
    AugmentUnlabelled = 4,
    AugmentLabelled = 5,
    Replacement = 6,
    Subset = 7,
    /// <summary>Negatives drawn per step for the contrastive terms (trainer).</summary>
    Negatives = 8,
    /// <summary>Uniforms that pick semantic positives among matching queue entries (trainer).</summary>
    SemanticPositives = 9,
    /// <summary>Evaluation and fine-tuning views (trainer).</summary>
    Evaluation = 10,
}

/// <summary>
/// Counter-based RNG: every value is a pure hash of (key, counter), so a draw depends only on
/// what it is for (seed, stream, epoch, image, view, draw number) and never on thread timing.
/// SplitMix64 finaliser as the mixing function.
/// </summary>
public struct CounterRng
{
    private readonly ulong _key;
    private ulong _counter;

    public CounterRng(ulong key) { _key = key; _counter = 0; }

    /// <summary>A generator keyed by the hash of all given parts.</summary>
    public static CounterRng For(long seed, RngStream stream, long a = 0, long b = 0, long c = 0)
        => new(Key(seed, stream, a, b, c));

    public static ulong Key(long seed, RngStream stream, long a = 0, long b = 0, long c = 0)
    {
        ulong h = Mix((ulong)seed ^ 0x6A09E667F3BCC909UL);
        h = Mix(h ^ (ulong)stream);
        h = Mix(h ^ (ulong)a);
        h = Mix(h ^ (ulong)b);
        h = Mix(h ^ (ulong)c);
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextU64() => Mix(_key + 0xD1B54A32D192ED03UL * ++_counter);

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextU64() >> 11) * (1.0 / (1UL << 53));

    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    public bool Bernoulli(double p) => NextDouble() < p;

    /// <summary>Uniform integer in [0, n); the multiply-shift bias is below 2^-32 for any n we use.</summary>
    public int NextInt(int n) => (int)(((NextU64() >> 32) * (ulong)n) >> 32);

    /// <summary>Fisher-Yates permutation of 0..n-1.</summary>
    public static int[] Permutation(int n, CounterRng rng)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Shuffle(p, ref rng);
        return p;
    }

    public static void Shuffle<T>(Span<T> items, ref CounterRng rng)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
