// One rank of a multi-rank test, started as `mpirun -np N dotnet SemPPL.Distributed.Probe.dll <mode> [timeout-seconds]`:
//   collectives  every collective of MpiCommunicator with values that depend on the rank, checked on every rank
//   die          the last rank kills itself (SIGKILL) while the others enter an all-reduce
//   hang         the last rank sleeps while the others enter an all-reduce (the watchdog must end them)
//   nccl         the collectives' checks over NcclCommunicator on each rank's GPU (host arrays staged through a device
//                buffer); needs NCCL (SEMPPL_NCCL_LIBRARY or LD_LIBRARY_PATH) and one GPU per rank
// or, without MPI, as each rank of a torchrun-style launch (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT):
//   rendezvous      JobCommunicators.Open on CUDA (NCCL joined at MASTER_ADDR:MASTER_PORT): the checks over the host
//                   plane (staged over NCCL) and an all-reduce on device memory through the data plane
//   rendezvous-die  the last rank kills itself (SIGKILL) while the others enter an NCCL all-reduce: they must exit
//                   non-zero with a message naming their rank within the timeout
//   open-cpu        JobCommunicators.Open for the CPU (Open MPI): a torchrun-style launch must be refused, naming the fix
// Exit codes: 0 all checks held, 1 a check or a collective failed (message on stderr), 5 the collective watchdog fired.
using SemPPL.Distributed;
using SemPPL.Distributed.Launch;
using SemPPL.Distributed.Mpi;
using SemPPL.Distributed.Nccl;

const int WatchdogExitCode = 5;
string mode = args.Length > 0 ? args[0] : "collectives";
var timeout = TimeSpan.FromSeconds(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 60);
try
{
    var launch = ProcessLaunch.FromProcessEnvironment();
    if (mode.StartsWith("rendezvous", StringComparison.Ordinal)) return Rendezvous.Run(mode, launch, timeout, WatchdogExitCode);
    if (mode == "open-cpu")
    {
        using var job = JobCommunicators.Open(launch, cuda: false, timeout, WatchdogExitCode);
        Console.WriteLine($"rank {job.Rank} of {job.WorldSize}: joined on the CPU");
        return 0;
    }
    using var comm = MpiCommunicator.Initialize(timeout, WatchdogExitCode);
    string me = $"rank {comm.Rank} of {comm.WorldSize}";
    Require(launch.Rank == comm.Rank && launch.WorldSize == comm.WorldSize && launch.Source == LaunchSource.OpenMpi,
            $"{me}: the launch read from the environment ({launch}) disagrees with MPI");
    bool last = comm.Rank == comm.WorldSize - 1;
    switch (mode)
    {
        case "collectives":
            Collectives.Check(comm);
            Collectives.NullReferenceIsStillAnException(me);
            Console.WriteLine($"{me}: collectives ok");
            return 0;
        case "nccl":
            using (var nccl = NcclCommunicator.Create(comm, launch.CudaDevice, Environment.GetEnvironmentVariable(NcclCommunicator.LibraryPathVariable), timeout))
            using (var staged = new DeviceStagedCommunicator(nccl, nccl.Staging))
            {
                Collectives.Check(staged);
                Console.WriteLine($"{me}: NCCL {nccl.Version} collectives ok on cuda:{launch.CudaDevice}");
            }
            return 0;
        case "die":
            comm.Barrier();   // both ranks are up before one dies
            if (last) System.Diagnostics.Process.GetCurrentProcess().Kill();
            comm.AllReduce(new float[1000], ReduceOperation.Sum);
            Console.Error.WriteLine($"{me}: the all-reduce returned although a rank was killed");
            return 1;
        case "hang":
            comm.Barrier();
            if (last) Thread.Sleep(TimeSpan.FromMinutes(5));
            comm.AllReduce(new float[1000], ReduceOperation.Sum);
            Console.Error.WriteLine($"{me}: the all-reduce returned although a rank hangs");
            return 1;
        default:
            Console.Error.WriteLine($"unknown mode '{mode}' (collectives, nccl, die, hang, rendezvous, rendezvous-die, open-cpu)");
            return 2;
    }
}
catch (Exception e) when (e is CommunicatorException or LaunchException or ProbeCheckFailed)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

static void Require(bool condition, string message)
{
    if (!condition) throw new ProbeCheckFailed(message);
}

internal sealed class ProbeCheckFailed(string message) : Exception(message);

internal static class Collectives
{
    /// <summary>Each collective with rank-dependent values whose exact result every rank can compute.</summary>
    public static void Check(ICommunicator c)
    {
        int r = c.Rank, n = c.WorldSize;
        string me = $"rank {r} of {n}";
        void Expect<T>(ReadOnlySpan<T> actual, Func<int, T> expected, string what) where T : IEquatable<T>
        {
            for (int i = 0; i < actual.Length; i++)
                if (!actual[i].Equals(expected(i)))
                    throw new ProbeCheckFailed($"{me}: {what}: element {i} is {actual[i]}, expected {expected(i)}");
        }

        // Sum and average of small integers (exact in float32) over a buffer that spans several vector widths.
        const int Length = 100_003;
        var sum = new float[Length];
        for (int i = 0; i < Length; i++) sum[i] = r * 1000 + i % 1000;
        c.AllReduce(sum, ReduceOperation.Sum);
        float rankSum = 1000f * n * (n - 1) / 2;
        Expect<float>(sum, i => rankSum + n * (i % 1000), "all-reduce sum");

        var avg = new float[Length];
        for (int i = 0; i < Length; i++) avg[i] = 2 * (r + 1) * (i % 7);
        c.AllReduce(avg, ReduceOperation.Average);
        Expect<float>(avg, i => (n + 1) * (i % 7), "all-reduce average");

        var send = new float[5];
        for (int i = 0; i < send.Length; i++) send[i] = 10 * r + i;
        var gathered = new float[5 * n];
        c.AllGather(send, gathered);
        Expect<float>(gathered, i => 10 * (i / 5) + i % 5, "all-gather float32");

        long big = 1L << 40;   // not representable in float32: checks that int64 moves as int64
        long[] ids = [big + r, -r - 1];
        var allIds = new long[2 * n];
        c.AllGather(ids, allIds);
        Expect<long>(allIds, i => i % 2 == 0 ? big + i / 2 : -(i / 2) - 1, "all-gather int64");

        int root = n - 1;
        var bytes = new byte[3000];
        if (r == root) for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 + 3);
        c.Broadcast(bytes, root);
        Expect<byte>(bytes, i => (byte)(i * 7 + 3), "broadcast bytes");

        var floats = new float[17];
        if (r == 0) for (int i = 0; i < floats.Length; i++) floats[i] = 0.25f * i;
        c.Broadcast(floats, 0);
        Expect<float>(floats, i => 0.25f * i, "broadcast float32");

        c.Barrier();
    }

    /// <summary>.NET turns SIGSEGV into NullReferenceException; Open MPI must not have taken that signal over.</summary>
    public static void NullReferenceIsStillAnException(string me)
    {
        try
        {
            int[]? nothing = Environment.TickCount64 < 0 ? [] : null;
            _ = nothing![0];
            throw new ProbeCheckFailed($"{me}: indexing null did not throw");
        }
        catch (NullReferenceException) { }
    }
}

/// <summary>The torchrun-style modes: no MPI, NCCL joined at MASTER_ADDR:MASTER_PORT through JobCommunicators.</summary>
internal static class Rendezvous
{
    public static int Run(string mode, ProcessLaunch launch, TimeSpan timeout, int watchdogExitCode)
    {
        if (launch.Source != LaunchSource.TorchRun)
            throw new ProbeCheckFailed($"{mode} needs a torchrun-style launch (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), not {launch}");
        using var job = JobCommunicators.Open(launch, cuda: true, timeout, watchdogExitCode);
        string me = $"rank {job.Rank} of {job.WorldSize}";
        var cuda = CudaDriver.Load();
        const int Count = 1 << 20;
        var values = new float[Count];
        nint device = cuda.Allocate(Count * sizeof(float));
        try
        {
            if (mode == "rendezvous")
            {
                Collectives.Check(job.Host);
                // The data plane on device memory: rank r holds r + 1, the average is (n + 1) / 2 exactly.
                Array.Fill(values, job.Rank + 1f);
                cuda.CopyToDevice<float>(values, device);
                job.Data.AllReduce(new CollectiveBuffer(device, Count, ElementType.Float32), ReduceOperation.Average);
                cuda.CopyToHost(device, values.AsSpan());
                float expected = (job.WorldSize + 1) / 2f;
                if (values[0] != expected || values[^1] != expected)
                    throw new ProbeCheckFailed($"{me}: device all-reduce gave {values[0]}, expected {expected}");
                job.Host.Barrier();
                Console.WriteLine($"{me}: rendezvous collectives ok on cuda:{launch.CudaDevice} (host plane staged over NCCL, data plane on device memory)");
                return 0;
            }
            if (mode == "rendezvous-die")
            {
                job.Host.Barrier();   // every rank is up before one dies
                if (job.Rank == job.WorldSize - 1) System.Diagnostics.Process.GetCurrentProcess().Kill();
                job.Data.AllReduce(new CollectiveBuffer(device, Count, ElementType.Float32), ReduceOperation.Sum);
                Console.Error.WriteLine($"{me}: the NCCL all-reduce returned although a rank was killed");
                return 1;
            }
            Console.Error.WriteLine($"unknown mode '{mode}'");
            return 2;
        }
        finally
        {
            cuda.Free(device);
        }
    }
}
