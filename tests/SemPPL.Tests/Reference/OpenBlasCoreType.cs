using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Reference;

/// <summary>
/// The OpenBLAS kernel set the PyTorch reference runs with (OPENBLAS_CORETYPE): Debian's OpenBLAS does not always
/// recognise a virtual machine's CPU and then falls back to generic kernels, so the harness names the best set the
/// CPU supports: SkylakeX with AVX-512, Haswell with AVX2, else OpenBLAS's own detection. A value in the
/// environment wins.
/// </summary>
public sealed record OpenBlasCoreType(string? Value, string Reason)
{
    public const string Variable = "OPENBLAS_CORETYPE";

    /// <summary>For this machine and process environment.</summary>
    public static OpenBlasCoreType Current => Choose(Environment.GetEnvironmentVariable(Variable), CpuFeatures.Current);

    public static OpenBlasCoreType Choose(string? fromEnvironment, CpuFeatures cpu) =>
        fromEnvironment is { Length: > 0 } v ? new(v, "from the environment")
        : cpu.Has("avx512f") ? new("SkylakeX", "the CPU has avx512f")
        : cpu.Has("avx2") ? new("Haswell", "the CPU has avx2")
        : new(null, "no avx2: OpenBLAS detects the CPU itself");

    /// <summary>"OPENBLAS_CORETYPE=SkylakeX (the CPU has avx512f)": what the benchmark prints.</summary>
    public override string ToString() => $"{Variable}={Value ?? "(unset)"} ({Reason})";
}
