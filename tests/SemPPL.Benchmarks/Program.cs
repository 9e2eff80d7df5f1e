// Benchmark entry point: `dotnet run -c Release --project tests/SemPPL.Benchmarks -- <name> [args]`.
// Each area of the project adds its benchmarks under its own sub-folder.
var benchmarks = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
{
    ["data"] = SemPPL.Benchmarks.Data.DataPipelineBenchmark.Run,
    ["quality"] = SemPPL.Benchmarks.Quality.QualityExperiment.Run,
    ["quality-merge"] = SemPPL.Benchmarks.Quality.QualityExperiment.Merge,
    ["autodiff"] = SemPPL.Benchmarks.Autodiff.AutodiffBenchmark.Run,
    ["graphgen-imagenet"] = SemPPL.Benchmarks.Graphgen.GraphgenImageNetBenchmark.Run,
    ["session-start"] = SemPPL.Benchmarks.Runtime.SessionStartBenchmark.Run,
    ["step"] = SemPPL.Benchmarks.Step.StepBenchmark.Run,
    ["wgrad"] = SemPPL.Benchmarks.Autodiff.WeightGradientBenchmark.Run,
    ["devicecheck"] = SemPPL.Benchmarks.DeviceCheck.DeviceComparison.Run,
    ["allreduce"] = SemPPL.Benchmarks.Distributed.AllReduceBenchmark.Run,
    ["checkpoint-diff"] = SemPPL.Benchmarks.Distributed.CheckpointDiff.Run,
    ["cuda-profile"] = SemPPL.Benchmarks.Cuda.CudaProfileBenchmark.Run,
};
if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: SemPPL.Benchmarks <{string.Join("|", benchmarks.Keys)}> [options]");
    return 2;
}
return run(args[1..]);
