using System.Text;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Models;

/// <summary>
/// Initial values of parameters, deterministic from (seed, parameter name) alone: each parameter draws from its
/// own SplitMix64 stream seeded by the seed and a 64-bit FNV-1a hash of its name, so adding or reordering
/// parameters changes no other parameter, and online/target copies (same local name) start equal.
/// <list type="bullet">
/// <item>ConvWeight [out, in, kH, kW]: normal(0, std), std = sqrt(2 / (out * kH * kW)) (He / Kaiming normal, fan-out, ReLU; torchvision).</item>
/// <item>LinearWeight [out, in]: uniform(-1/sqrt(in), 1/sqrt(in)) (PyTorch nn.Linear default).</item>
/// <item>Bias: uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)) with the spec's FanIn (nn.Linear default); 0 when FanIn is 0.</item>
/// <item>BnScale: 1, or 0 when ZeroInit (last BN of a residual block under zero_init_residual). BnBias: 0.</item>
/// <item>A spec with a stored <see cref="ParameterSpec.InitialValue"/> (an onnx:&lt;path&gt; backbone's initializers) gets a copy of it, whatever its kind.</item>
/// </list>
/// Normals come from Box-Muller on SplitMix64 uniforms: nothing depends on .NET's Random.
/// </summary>
public static class ParameterInitializer
{
    public static float[][] Initialize(IReadOnlyList<ParameterSpec> parameters, int seed) =>
        parameters.Select(p => Initialize(p, seed)).ToArray();

    public static float[] Initialize(ParameterSpec p, int seed)
    {
        if (p.InitialValue is { } stored)
        {
            if (stored.Length != p.ElementCount)
                throw new ArgumentException($"parameter '{p.Name}': stored initial value has {stored.Length} elements, the shape {Shapes.Str(p.Shape)} needs {p.ElementCount}");
            return (float[])stored.Clone();
        }
        var data = new float[checked((int)p.ElementCount)];
        var rng = new SplitMix64(StreamSeed(seed, p.Name));
        switch (p.Kind)
        {
            case ParameterKind.ConvWeight:
            {
                if (p.Shape.Length < 2) throw new ArgumentException($"conv weight '{p.Name}' must be [out, in, k...]");
                long fanOut = p.Shape[0] * p.Shape.Skip(2).Aggregate(1L, (a, d) => a * d);
                double std = Math.Sqrt(2.0 / fanOut);
                for (int i = 0; i < data.Length; i++) data[i] = (float)(std * rng.NextNormal());
                break;
            }
            case ParameterKind.LinearWeight:
            {
                if (p.Shape.Length != 2) throw new ArgumentException($"linear weight '{p.Name}' must be [out, in]");
                FillUniform(data, ref rng, 1.0 / Math.Sqrt(p.Shape[1]));
                break;
            }
            case ParameterKind.Bias:
                if (p.FanIn > 0) FillUniform(data, ref rng, 1.0 / Math.Sqrt(p.FanIn));
                break;
            case ParameterKind.BnScale:
                if (!p.ZeroInit) Array.Fill(data, 1f);
                break;
            case ParameterKind.BnBias:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(p), p.Kind, "unknown parameter kind");
        }
        return data;
    }

    /// <summary>Initial values of buffers (BN running mean 0, running var 1).</summary>
    public static float[][] InitializeBuffers(IReadOnlyList<BufferSpec> buffers) =>
        buffers.Select(b => b.InitialValues()).ToArray();

    private static void FillUniform(float[] data, ref SplitMix64 rng, double bound)
    {
        for (int i = 0; i < data.Length; i++) data[i] = (float)((2 * rng.NextDouble() - 1) * bound);
    }

    /// <summary>Seed of a parameter's stream: the run seed mixed with the FNV-1a hash of the UTF-8 name.</summary>
    public static ulong StreamSeed(int seed, string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) { h ^= b; h *= 1099511628211UL; }
        var mix = new SplitMix64(h ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL));
        return mix.NextUInt64();
    }
}

/// <summary>SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed 64-bit generator.</summary>
public struct SplitMix64(ulong state)
{
    private ulong _state = state;
    private double? _spare;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal by Box-Muller (both outputs used).</summary>
    public double NextNormal()
    {
        if (_spare is { } s) { _spare = null; return s; }
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }
}
