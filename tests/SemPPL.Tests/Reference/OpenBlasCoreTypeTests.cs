using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Reference;

public class OpenBlasCoreTypeTests
{
    private const string Epyc = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n" +
        "flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16\n\n" +
        "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse sse2\n";
    private const string Haswell = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v3\nflags\t\t: fpu sse sse2 sse4_1 avx fma f16c avx2 bmi2\n";
    private const string OldX86 = "processor\t: 0\nmodel name\t: Intel(R) Core(TM)2 Duo\nflags\t\t: fpu sse sse2 ssse3 sse4_1\n";
    private const string Arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\nCPU implementer\t: 0x41\n";

    [Fact]
    public void CpuInfo_parse_reads_the_first_processors_model_and_kernel_flags()
    {
        var cpu = CpuFeatures.ParseCpuInfo(Epyc);
        Assert.Equal("AMD EPYC", cpu.ModelName);
        Assert.Equal(["sse4_1", "avx", "fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16"], cpu.VectorFlags);
        Assert.Equal(["asimd"], CpuFeatures.ParseCpuInfo(Arm).VectorFlags);
        Assert.Equal("unknown CPU", CpuFeatures.ParseCpuInfo(Arm).ModelName);
    }

    [Fact]
    public void Core_type_follows_the_widest_vector_extension()
    {
        Assert.Equal("SkylakeX", OpenBlasCoreType.Choose(null, CpuFeatures.ParseCpuInfo(Epyc)).Value);
        Assert.Equal("Haswell", OpenBlasCoreType.Choose(null, CpuFeatures.ParseCpuInfo(Haswell)).Value);
        Assert.Null(OpenBlasCoreType.Choose(null, CpuFeatures.ParseCpuInfo(OldX86)).Value);
        Assert.Null(OpenBlasCoreType.Choose("", CpuFeatures.ParseCpuInfo(Arm)).Value);
        Assert.Equal("OPENBLAS_CORETYPE=Haswell (the CPU has avx2)", OpenBlasCoreType.Choose(null, CpuFeatures.ParseCpuInfo(Haswell)).ToString());
    }

    [Fact]
    public void The_environment_wins()
    {
        var choice = OpenBlasCoreType.Choose("Zen", CpuFeatures.ParseCpuInfo(Epyc));
        Assert.Equal("Zen", choice.Value);
        Assert.Equal("OPENBLAS_CORETYPE=Zen (from the environment)", choice.ToString());
    }

    [Fact]
    public void This_machine_is_read_from_proc_cpuinfo()
    {
        if (!File.Exists("/proc/cpuinfo")) return; // other systems: .NET's intrinsics, nothing to compare with
        string flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal) || l.StartsWith("Features", StringComparison.Ordinal));
        var words = flags.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(words.Contains("avx512f"), CpuFeatures.Current.Has("avx512f"));
        Assert.Equal(words.Contains("avx2"), CpuFeatures.Current.Has("avx2"));
    }
}
