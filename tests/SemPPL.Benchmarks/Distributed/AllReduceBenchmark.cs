using System.Diagnostics;
using System.Globalization;
using SemPPL.Distributed;
using SemPPL.Distributed.Launch;
using SemPPL.Distributed.Nccl;

namespace SemPPL.Benchmarks.Distributed;

/// <summary>
/// Time and bandwidth of one all-reduce (average) of a flat float buffer, the gradient exchange of a data-parallel
/// step: over Open MPI on host memory, or with <c>--engine nccl</c> over NCCL on each rank's GPU. Run under a launcher:
/// <c>mpirun -np 2 --oversubscribe dotnet SemPPL.Benchmarks.dll allreduce [--engine mpi|nccl] [--floats 11000000,25600000] [--iterations 20] [--warmup 3]</c>,
/// or, for NCCL without MPI, as the ranks of a torchrun-style launch (<c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c>,
/// <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>; world size 1 allowed): the ranks join as the trainer's do (<see cref="JobCommunicators"/>).
/// Reports, per size, the median and fastest time and two bandwidths: algorithm (buffer bytes / time) and bus
/// (x 2(n-1)/n, the bytes each rank's link carries in a ring all-reduce; the figure NCCL's own tests print).
/// Each timed call starts after a barrier; the result is checked, so a wrong all-reduce is not timed as a fast one.
/// Baseline in the same run, for a machine shared with other work: one copy of the buffer within a rank (memory speed now).
/// </summary>
public static class AllReduceBenchmark
{
    public static int Run(string[] args)
    {
        var sizes = BenchmarkOptions.Get(args, "--floats", "11000000,25600000").Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int iterations = BenchmarkOptions.Get(args, "--iterations", 20);
        int warmup = BenchmarkOptions.Get(args, "--warmup", 3);
        var launch = ProcessLaunch.FromProcessEnvironment();
        if (launch.Source == LaunchSource.SingleProcess)
        {
            Console.Error.WriteLine("allreduce measures communication between ranks: start it with mpirun -np 2 (or more) --oversubscribe dotnet SemPPL.Benchmarks.dll allreduce, "
                                    + "or (--engine nccl) as the ranks of a torchrun-style launch");
            return 2;
        }
        string engine = BenchmarkOptions.Get(args, "--engine", "mpi");
        if (engine is not ("mpi" or "nccl"))
        {
            Console.Error.WriteLine($"--engine {engine}: expected mpi or nccl");
            return 2;
        }
        var timeout = TimeSpan.FromMinutes(5);
        JobCommunicators job;
        try
        {
            job = JobCommunicators.Open(launch, cuda: engine == "nccl", timeout, timeoutExitCode: 5);
        }
        catch (CommunicatorException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        using var owned = job;
        var comm = job.Host;
        var nccl = job.Data as NcclCommunicator;
        var cuda = nccl is null ? null : CudaDriver.Load();
        int n = comm.WorldSize;
        if (comm.Rank == 0)
            Console.WriteLine($"{(nccl is null ? "Open MPI, host memory" : $"NCCL {nccl.Version}, device memory")}: all-reduce (average), {n} ranks ({launch.Source}), {Machine.Describe()}, load average {Machine.LoadAverage()}");
        foreach (long count in sizes)
        {
            var buffer = new float[count];
            nint device = cuda?.Allocate(count * sizeof(float)) ?? 0;
            var copy = new float[count];
            var times = new float[iterations];
            var copyTimes = new float[iterations];
            for (int i = -warmup; i < iterations; i++)
            {
                // Rank r holds r + 1 everywhere: the average is (n + 1) / 2 exactly.
                Array.Fill(buffer, comm.Rank + 1f);
                cuda?.CopyToDevice<float>(buffer, device);
                comm.Barrier();
                long start = Stopwatch.GetTimestamp();
                if (nccl is null) comm.AllReduce(buffer, ReduceOperation.Average);
                else nccl.AllReduce(new CollectiveBuffer(device, count, ElementType.Float32), ReduceOperation.Average);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                cuda?.CopyToHost(device, buffer.AsSpan());
                if (buffer[0] != (n + 1) / 2f || buffer[^1] != (n + 1) / 2f)
                    throw new InvalidOperationException($"rank {comm.Rank}: the all-reduce gave {buffer[0]}, expected {(n + 1) / 2f}");
                if (i >= 0) times[i] = (float)seconds;
                start = Stopwatch.GetTimestamp();
                buffer.AsSpan().CopyTo(copy);
                if (i >= 0) copyTimes[i] = (float)Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            if (cuda is not null) cuda.Free(device);
            // A step waits for the slowest rank: per iteration, the longest time over the ranks.
            var all = new float[iterations * n];
            comm.AllGather(times, all);
            var slowest = Enumerable.Range(0, iterations).Select(i => Enumerable.Range(0, n).Max(r => all[r * iterations + i])).Order().ToArray();
            if (comm.Rank == 0) Report(count, n, slowest[slowest.Length / 2], slowest[0], copyTimes.Order().ElementAt(iterations / 2));
        }
        return 0;
    }

    private static void Report(long count, int ranks, double median, double fastest, double copy)
    {
        double bytes = count * 4.0, bus = 2.0 * (ranks - 1) / ranks;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count,12:N0} floats ({bytes / 1e6,6:0.0} MB): median {median * 1e3,8:0.00} ms, fastest {fastest * 1e3,8:0.00} ms; "
            + $"algorithm {bytes / median / 1e9,6:0.00} GB/s, bus {bytes * bus / median / 1e9,6:0.00} GB/s (median); "
            + $"baseline: a copy of the buffer within rank 0 {copy * 1e3:0.00} ms"));
    }
}
