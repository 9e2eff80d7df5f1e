using System.Security.Cryptography;
using SemPPL.Distributed;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.DataParallel;

/// <summary>
/// Checks, before the first step, that every rank holds the same artifact set, the same starting state (initial weights
/// or the broadcast checkpoint), the same labelled split and data set size, and starts at the same step: ranks that
/// differ would train different models while averaging their gradients. One all-gather of a few digests.
/// </summary>
public static class StartCheck
{
    private static readonly string[] What = ["artifact set", "starting state", "labelled split", "training-set size", "first step"];

    /// <exception cref="JobMismatchException">names the ranks and what differs.</exception>
    public static void Run(TrainingJob job, RunSetup setup, StepGraphs graphs, long start)
    {
        long[] mine =
        [
            Digest(ArtifactBytes(setup.Folder.Artifacts)),
            Digest(graphs.State.Download().SelectMany(t => new[] { System.Text.Encoding.UTF8.GetBytes(t.Name), t.Tensor.ToBytes() })),
            Digest([System.Runtime.InteropServices.MemoryMarshal.AsBytes(setup.Split.Indices.AsSpan()).ToArray()]),
            setup.Data.Train.Count,
            start,
        ];
        var all = new long[mine.Length * job.WorldSize];
        job.Communicators.Host.AllGather(mine, all);
        var problems = new List<string>();
        for (int r = 1; r < job.WorldSize; r++)
            for (int k = 0; k < mine.Length; k++)
                if (all[r * mine.Length + k] != all[k]) problems.Add($"rank {r}'s {What[k]} differs from rank 0's");
        if (problems.Count > 0)
            throw new JobMismatchException($"the ranks do not start alike: {string.Join("; ", problems)}. Every rank must run the same semppl build, " +
                                           "config and data (each reads its own copy)");
    }

    private static IEnumerable<byte[]> ArtifactBytes(string dir) =>
        Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Select(f => new[] { System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(f)) }
            .Append(FileDigest(f))).SelectMany(x => x);

    private static byte[] FileDigest(string path)
    {
        using var stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }

    private static long Digest(IEnumerable<byte[]> parts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in parts) sha.AppendData(p);
        return BitConverter.ToInt64(sha.GetHashAndReset(), 0);
    }
}

/// <summary>The ranks of a job would not train the same model; the message names them.</summary>
public sealed class JobMismatchException(string message) : Exception(message);
