using SemPPL.Config;
using SemPPL.Data.Random;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Optimizers;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Evaluation;

/// <summary>Settings of one fine-tuning run.</summary>
public sealed record FineTuneSettings(int Steps, int Batch, double Lr, double Momentum = 0.9, double WeightDecay = 5e-4);

/// <summary>
/// Fine-tunes every encoder weight and the linear classifier on the labelled subset with softmax
/// cross-entropy (FineTuneGraph + SGD graph), view-1 augmentations, cosine learning rate. Starting
/// from SemPPL's trained weights this is the paper's protocol; starting from the initial weights it
/// is the supervised-only baseline.
/// </summary>
public static class FineTuner
{
    public static Dictionary<string, HostTensor> Run(SessionFactory factory, SemPPLConfig config, ImageBatchLoader loader,
        IReadOnlyList<int> labelledIndices, IReadOnlyList<int> labels, IReadOnlyDictionary<string, HostTensor> start,
        FineTuneSettings s, Action<int, float>? progress = null)
    {
        int batch = Math.Min(s.Batch, labelledIndices.Count);
        var (graph, parameters, buffers) = FineTuneGraph.Build(config, batch, config.Augment.Channels, config.Augment.LargeSize);
        using var ft = new GraphRunner(factory, graph.ToBytes(), "finetune");
        var optimizerParams = parameters.Select(p => new OptimizerParameter(ArtifactNames.OnlinePrefix + p.Name, p.Shape, p.ExcludedFromWeightDecay, p.ExcludedFromLars)).ToList();
        using var sgd = new GraphRunner(factory, SgdOptimizerGraph.Build(optimizerParams, s.Momentum, s.WeightDecay, false).Graph.ToBytes(), "finetune_sgd");

        using var state = new PingPongState(factory);
        foreach (var name in parameters.Select(p => p.Name).Concat(buffers.Select(b => b.Name)))
        {
            string full = ArtifactNames.OnlinePrefix + name;
            state.Add(full, start.TryGetValue(full, out var t) ? t : throw new InvalidDataException($"fine-tune: no starting value for '{full}'"));
        }
        foreach (var (name, info) in sgd.Inputs.Where(i => i.Key.StartsWith("state.", StringComparison.Ordinal)))
            state.Add(name, HostTensor.Filled(info.Type, info.Shape, 0));

        using var pool = new DeviceState(factory);
        var images = pool.Add(DeviceTensor.AllocateHost(factory, "images", DType.Float, [batch, .. loader.ImageShape]));
        var labelT = pool.Add(DeviceTensor.AllocateHost(factory, "labels", DType.Int64, batch));
        var lrT = pool.Add(DeviceTensor.AllocateHost(factory, "lr", DType.Float));
        var loss = pool.Add(DeviceTensor.AllocateHost(factory, "loss", DType.Float));
        pool.Add(DeviceTensor.AllocateHost(factory, "accuracy", DType.Float));
        foreach (var (name, info) in ft.Outputs.Where(o => o.Key.StartsWith("grad.", StringComparison.Ordinal)))
            pool.Allocate(name, info.Type, info.Shape);
        using var ftBinding = ConventionBinder.Bind(ft, state, [pool]);
        using var sgdBinding = ConventionBinder.Bind(sgd, state, [pool]);

        int n = labelledIndices.Count, perEpoch = Math.Max(1, n / batch);
        var order = Array.Empty<int>();
        var chunk = new int[batch];
        for (int step = 0; step < s.Steps; step++)
        {
            int epoch = step / perEpoch, slot = step % perEpoch;
            if (slot == 0) order = CounterRng.Permutation(n, CounterRng.For(config.Seed, RngStream.Evaluation, 1_000_000 + epoch));
            var lab = labelT.HostSpan<long>();
            for (int i = 0; i < batch; i++)
            {
                int k = order[slot * batch + i];
                chunk[i] = labelledIndices[k];
                lab[i] = labels[k];
            }
            loader.Load(chunk, images.HostSpan<float>(), augment: true, epoch: epoch);
            lrT.HostSpan<float>()[0] = (float)(s.Lr * 0.5 * (1 + Math.Cos(Math.PI * step / s.Steps)));
            ftBinding.Run();
            sgdBinding.Run();
            state.Flip();
            float l = loss.HostSpan<float>()[0];
            if (!float.IsFinite(l)) throw new InvalidOperationException($"fine-tuning diverged at step {step} (loss {l}); lower eval.fine_tune_lr");
            progress?.Invoke(step, l);
        }
        return state.Download().ToDictionary(t => t.Name, t => t.Tensor);
    }
}
