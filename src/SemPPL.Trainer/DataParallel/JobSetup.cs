using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using SemPPL.Config;
using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Checkpoints;
using SemPPL.Trainer.Training;

namespace SemPPL.Trainer.DataParallel;

/// <summary>
/// Prepares every rank of a job for its first step. Rank 0 prepares the run folder exactly as one process would (every
/// check before anything is written, then the split and config), and reads the resume checkpoint; the other ranks
/// receive the split and the checkpoint's bytes from it (no shared file system needed) and build their own artifact set
/// for the job's world size. A refusal on rank 0 reaches every rank before any of them trains.
/// </summary>
public static class JobSetup
{
    public static RunSetup Prepare(TrainingJob job, SemPPLConfig config, RunFolder folder, bool resume, bool force, Action<string> log)
    {
        var host = job.Communicators.Host;
        RunSetup? setup = null;
        Exception? failure = null;
        if (job.IsPrimary)
        {
            try { setup = RunSetup.Prepare(config, folder, resume, log, force, job.WorldSize); }
            catch (Exception e) { failure = e; }
        }
        var status = new byte[] { (byte)(failure is null ? 0 : 1) };
        host.Broadcast(status, root: 0);
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        if (status[0] != 0) throw new JobStoppedException($"{job}: rank 0 refused to start the run (its message says why); nothing was trained");

        int[] split = Broadcast(host, job.IsPrimary ? setup!.Split.Indices : null);
        byte[] checkpoint = Broadcast(host, job.IsPrimary ? ReadCheckpoint(setup!) : null);
        if (job.IsPrimary) return setup!;

        var rankFolder = new RunFolder(TrainingJob.RankFolder(folder.Root, job.Rank));
        rankFolder.Create();
        return RunSetup.PrepareRank(config, rankFolder, split, Checkpoint(rankFolder, checkpoint), job.WorldSize, log);
    }

    private static byte[] ReadCheckpoint(RunSetup setup) => setup.ResumeCheckpointFile is { } path ? File.ReadAllBytes(path) : [];

    /// <summary>The checkpoint rank 0 resumes from, as this rank's copy (written into its own folder, then read back and checked like any checkpoint).</summary>
    private static Checkpoint? Checkpoint(RunFolder rankFolder, byte[] bytes)
    {
        if (bytes.Length == 0) return null;
        string path = Path.Combine(rankFolder.Root, "resume-from-rank0.spt");
        File.WriteAllBytes(path, bytes);
        var contents = TensorFile.Read(path);
        if (!contents.Metadata.TryGetValue(CheckpointStore.StepKey, out var s) || !long.TryParse(s, out long step))
            throw new InvalidDataException($"the checkpoint rank 0 sent has no step ({path})");
        return new Checkpoint(step, path, contents.Tensors, contents.Metadata);
    }

    private static int[] Broadcast(ICommunicator host, int[]? values)
    {
        var length = BitConverter.GetBytes(values?.LongLength ?? 0);
        host.Broadcast(length, root: 0);
        var result = values ?? new int[BitConverter.ToInt64(length)];
        host.Broadcast(MemoryMarshal.AsBytes(result.AsSpan()), root: 0);
        return result;
    }

    private static byte[] Broadcast(ICommunicator host, byte[]? bytes)
    {
        var length = BitConverter.GetBytes(bytes?.LongLength ?? 0);
        host.Broadcast(length, root: 0);
        var result = bytes ?? new byte[BitConverter.ToInt64(length)];
        host.Broadcast(result, root: 0);
        return result;
    }
}

/// <summary>Another rank stopped the job; this rank ends without training further.</summary>
public sealed class JobStoppedException(string message) : Exception(message);
