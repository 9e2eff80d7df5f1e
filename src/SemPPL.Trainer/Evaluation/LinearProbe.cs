using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Evaluation;

/// <summary>A trained probe head (probe.weight [K, F], probe.bias [K]) and its test accuracy.</summary>
public sealed record LinearProbeResult(double Top1, double Top5, HostTensor Weight, HostTensor Bias);

/// <summary>
/// Linear probe on frozen features of the labelled subset only: full-batch SGD with momentum 0.9
/// and cosine learning-rate decay (LinearProbeGraph + SgdOptimizerGraph), then top-1/top-5 on the test features.
/// </summary>
public static class LinearProbe
{
    public static LinearProbeResult TrainAndEvaluate(SessionFactory factory, float[] trainFeatures, IReadOnlyList<int> trainLabels,
        float[] testFeatures, IReadOnlyList<int> testLabels, long featureDim, int numClasses, int epochs, double lr)
    {
        int n = trainLabels.Count;
        var probeGraph = LinearProbeGraph.Build(n, featureDim, numClasses);
        var sgdGraph = SgdOptimizerGraph.Build(LinearProbeGraph.Parameters(featureDim, numClasses), 0.9, 0.0, false);
        var contracts = GraphContract.InStepOrder([probeGraph.Contract, sgdGraph.Contract]);
        using var probe = new GraphRunner(factory, probeGraph.Graph.ToBytes(), "linear_probe");
        using var sgd = new GraphRunner(factory, sgdGraph.Graph.ToBytes(), "probe_sgd");
        using var state = new PingPongState(factory);
        foreach (var (name, type, shape) in ContractBinder.StateTensors(contracts)) state.Add(name, HostTensor.Filled(type, shape, 0));
        using var tensors = new GraphTensors(factory);
        tensors.Provide(HostRole.Features, DeviceTensor.FromHost(factory, "features", HostTensor.Float([n, featureDim], trainFeatures)));
        tensors.Provide(HostRole.Labels, DeviceTensor.FromHost(factory, "labels", HostTensor.Int64([n], trainLabels.Select(l => (long)l).ToArray())));
        foreach (var c in contracts) tensors.AllocateFor(c);
        using var probeBinding = ContractBinder.Bind(probe, contracts[0], state, tensors);
        using var sgdBinding = ContractBinder.Bind(sgd, contracts[1], state, tensors);
        var lrT = tensors[HostRole.LearningRate];
        for (int e = 0; e < epochs; e++)
        {
            lrT.HostSpan<float>()[0] = (float)(lr * 0.5 * (1 + Math.Cos(Math.PI * e / epochs)));
            probeBinding.Run();
            sgdBinding.Run();
            state.Flip();
        }

        int m = testLabels.Count;
        var predictGraph = LinearProbeGraph.BuildPredict(m, featureDim, numClasses);
        using var predict = new GraphRunner(factory, predictGraph.Graph.ToBytes(), "linear_probe_predict");
        using var io = new GraphTensors(factory);
        io.Provide(HostRole.Features, DeviceTensor.FromHost(factory, "test_features", HostTensor.Float([m, featureDim], testFeatures)));
        io.AllocateFor(predictGraph.Contract);
        using var binding = ContractBinder.Bind(predict, predictGraph.Contract, state, io);
        binding.Run();
        var (top1, top5) = Accuracy.FromLogits(io[HostRole.Logits].HostSpan<float>(), numClasses, testLabels);
        return new LinearProbeResult(top1, top5, state.Current(ArtifactNames.ProbeWeight).Download(), state.Current(ArtifactNames.ProbeBias).Download());
    }
}
