using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// The CPU's model name and the vector instruction sets that ONNX Runtime's kernels (MLAS) and OpenBLAS choose
/// their code paths by. Read from /proc/cpuinfo on Linux (what the CPU has, whatever the .NET runtime was told);
/// elsewhere from .NET's hardware intrinsics. Benchmarks print it; the optimised-model cache keys on it.
/// </summary>
public sealed class CpuFeatures(string modelName, IReadOnlyList<string> vectorFlags)
{
    public string ModelName { get; } = modelName;

    /// <summary>The <see cref="KernelFlags"/> this CPU has.</summary>
    public IReadOnlyList<string> VectorFlags { get; } = vectorFlags;

    /// <summary>The instruction-set flags that select kernels, in /proc/cpuinfo's spelling and in this order.</summary>
    public static readonly IReadOnlyList<string> KernelFlags =
    [
        "sse4_1", "avx", "fma", "f16c", "avx2", "avx_vnni", "avx512f", "avx512bw", "avx512dq", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve",
    ];

    private static readonly Lazy<CpuFeatures> Detected = new(Detect);

    /// <summary>This machine's CPU.</summary>
    public static CpuFeatures Current => Detected.Value;

    public bool Has(string flag) => VectorFlags.Contains(flag);

    /// <summary>"AMD EPYC (avx2 avx512f ...)": what benchmark logs print.</summary>
    public override string ToString() => $"{ModelName} ({(VectorFlags.Count > 0 ? string.Join(' ', VectorFlags) : "no vector extensions found")})";

    /// <summary>The features of the first processor in a /proc/cpuinfo text (x86 "flags", Arm "Features").</summary>
    public static CpuFeatures ParseCpuInfo(string cpuinfo)
    {
        string? Field(string name) => cpuinfo.Split('\n')
            .Select(l => l.Split(':', 2))
            .FirstOrDefault(p => p.Length == 2 && p[0].Trim() == name)?[1].Trim();
        var flags = (Field("flags") ?? Field("Features") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return new CpuFeatures(Field("model name") ?? Field("Hardware") ?? "unknown CPU", [.. KernelFlags.Where(flags.Contains)]);
    }

    private static CpuFeatures Detect()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo")) return ParseCpuInfo(File.ReadAllText("/proc/cpuinfo"));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var flags = new List<string>();
        void Add(bool supported, string flag) { if (supported) flags.Add(flag); }
        Add(Sse41.IsSupported, "sse4_1");
        Add(Avx.IsSupported, "avx");
        Add(Fma.IsSupported, "fma");
        Add(Avx2.IsSupported, "avx2");
        Add(AvxVnni.IsSupported, "avx_vnni");
        Add(Avx512F.IsSupported, "avx512f");
        Add(Avx512BW.IsSupported, "avx512bw");
        Add(Avx512DQ.IsSupported, "avx512dq");
        Add(Avx512F.VL.IsSupported, "avx512vl");
        Add(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported, "asimd");
        return new CpuFeatures($"{RuntimeInformation.ProcessArchitecture} CPU", flags);
    }
}
