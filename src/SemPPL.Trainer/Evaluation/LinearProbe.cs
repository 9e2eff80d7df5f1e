using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Evaluation;

/// <summary>
/// Linear probe on frozen features of the labelled subset only: full-batch SGD with momentum 0.9
/// and cosine learning-rate decay (LinearProbeGraph + SgdOptimizerGraph), then top-1/top-5 on the test features.
/// </summary>
public static class LinearProbe
{
    public static (double Top1, double Top5) TrainAndEvaluate(SessionFactory factory, float[] trainFeatures, IReadOnlyList<int> trainLabels,
        float[] testFeatures, IReadOnlyList<int> testLabels, long featureDim, int numClasses, int epochs, double lr)
    {
        int n = trainLabels.Count;
        using var probe = new GraphRunner(factory, LinearProbeGraph.Build(n, featureDim, numClasses).ToBytes(), "linear_probe");
        var parameters = new[]
        {
            new OptimizerParameter(LinearProbeGraph.Weight, [numClasses, featureDim], false, false),
            new OptimizerParameter(LinearProbeGraph.Bias, [numClasses], true, true),
        };
        using var sgd = new GraphRunner(factory, SgdOptimizerGraph.Build(parameters, 0.9, 0.0, false).Graph.ToBytes(), "probe_sgd");
        using var state = new PingPongState(factory);
        state.Add(LinearProbeGraph.Weight, HostTensor.Filled(DType.Float, [numClasses, featureDim], 0));
        state.Add(LinearProbeGraph.Bias, HostTensor.Filled(DType.Float, [numClasses], 0));
        foreach (var (name, info) in sgd.Inputs.Where(i => i.Key.StartsWith("state.", StringComparison.Ordinal)))
            state.Add(name, HostTensor.Filled(info.Type, info.Shape, 0));
        using var pool = new DeviceState(factory);
        pool.Upload("features", HostTensor.Float([n, featureDim], trainFeatures));
        pool.Upload("labels", HostTensor.Int64([n], trainLabels.Select(l => (long)l).ToArray()));
        var lrT = pool.Add(DeviceTensor.AllocateHost(factory, "lr", DType.Float));
        foreach (var (name, info) in probe.Outputs.Where(o => o.Key.StartsWith("grad.", StringComparison.Ordinal)))
            pool.Allocate(name, info.Type, info.Shape);
        using var probeBinding = ConventionBinder.Bind(probe, state, [pool]);
        using var sgdBinding = ConventionBinder.Bind(sgd, state, [pool]);
        for (int e = 0; e < epochs; e++)
        {
            lrT.HostSpan<float>()[0] = (float)(lr * 0.5 * (1 + Math.Cos(Math.PI * e / epochs)));
            probeBinding.Run();
            sgdBinding.Run();
            state.Flip();
        }

        int m = testLabels.Count;
        using var predict = new GraphRunner(factory, LinearProbeGraph.BuildPredict(m, featureDim, numClasses).ToBytes(), "linear_probe_predict");
        using var io = new DeviceState(factory);
        var inputs = new Dictionary<string, DeviceTensor>
        {
            ["features"] = io.Upload("test_features", HostTensor.Float([m, featureDim], testFeatures)),
            [LinearProbeGraph.Weight] = state.Current(LinearProbeGraph.Weight),
            [LinearProbeGraph.Bias] = state.Current(LinearProbeGraph.Bias),
        };
        var logits = io.Add(DeviceTensor.AllocateHost(factory, "logits", DType.Float, m, numClasses));
        using var binding = predict.Bind(inputs, new Dictionary<string, DeviceTensor> { ["logits"] = logits });
        binding.Run();
        return Accuracy.FromLogits(logits.HostSpan<float>(), numClasses, testLabels);
    }
}
