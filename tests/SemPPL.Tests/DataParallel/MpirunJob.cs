using SemPPL.Distributed.Tests;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Tests.Cli;

namespace SemPPL.Tests.DataParallel;

/// <summary>semppl train as the ranks of an Open MPI job, and what the tests compare of its runs.</summary>
public static class MpirunJob
{
    public static string? Executable => MpirunFactAttribute.Executable;

    // CI runs as root, which mpirun refuses unless both are set.
    public static readonly Dictionary<string, string> AsRoot = new() { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" };

    /// <summary>mpirun -np <paramref name="ranks"/> semppl args...; <paramref name="exported"/> variables reach every rank (-x).</summary>
    public static RunningSemppl Start(int ranks, string[] args, params string[] exported)
    {
        var wrapper = new List<string> { Executable!, "-np", ranks.ToString(), "--oversubscribe", "-x", "NO_COLOR=1" };
        foreach (var e in exported) { wrapper.Add("-x"); wrapper.Add(e); }
        return SempplProcess.Start(args, [.. wrapper], AsRoot);
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(int ranks, string[] args, params string[] exported)
    {
        using var job = Start(ranks, args, exported);
        return job.WaitForExit(TimeSpan.FromSeconds(240));
    }

    /// <summary>The tensors of a run's checkpoint at <paramref name="step"/>, by name.</summary>
    public static Dictionary<string, float[]> Checkpoint(string runFolder, long step) =>
        TensorFile.Read(Path.Combine(runFolder, "checkpoints", $"ckpt-{step:D8}.spt")).Tensors
            .Where(t => t.Tensor.Type == SemPPL.GraphGen.Onnx.DType.Float)
            .ToDictionary(t => t.Name, t => t.Tensor.Floats);

    /// <summary>
    /// The same-named float tensors of <paramref name="a"/> and <paramref name="b"/> that differ by more than
    /// <paramref name="relative"/> of the tensor's largest magnitude plus <paramref name="absolute"/>, described.
    /// </summary>
    public static List<string> Differences(Dictionary<string, float[]> a, Dictionary<string, float[]> b, double relative, double absolute)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        var found = new List<string>();
        foreach (var (name, x) in a)
        {
            var y = b[name];
            double scale = 0, diff = 0;
            for (int i = 0; i < x.Length; i++)
            {
                scale = Math.Max(scale, Math.Max(Math.Abs(x[i]), Math.Abs(y[i])));
                diff = Math.Max(diff, Math.Abs((double)x[i] - y[i]));
            }
            if (diff > relative * scale + absolute) found.Add($"'{name}' differs by {diff:E2} (largest magnitude {scale:E2})");
        }
        return found;
    }

    /// <summary>The loss parts of every logged step (metrics.jsonl), without the timing column.</summary>
    public static List<double[]> LossParts(string runFolder) =>
        File.ReadAllLines(Path.Combine(runFolder, "metrics.jsonl")).Select(l =>
        {
            using var d = System.Text.Json.JsonDocument.Parse(l);
            var r = d.RootElement;
            return new[] { "loss", "lossAugmentation", "lossSemanticPositive", "lossInvariance", "lossClassifier", "classifierAccuracy" }
                .Select(k => r.GetProperty(k).GetDouble()).Prepend(r.GetProperty("step").GetDouble()).ToArray();
        }).ToList();
}
