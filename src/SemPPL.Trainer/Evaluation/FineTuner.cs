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
        var (ftGraph, parameters) = FineTuneGraph.Build(config, batch, config.Augment.Channels, config.Augment.LargeSize);
        var sgdGraph = SgdOptimizerGraph.Build(parameters, s.Momentum, s.WeightDecay, false);
        var contracts = GraphContract.InStepOrder([ftGraph.Contract, sgdGraph.Contract]);
        using var ft = new GraphRunner(factory, ftGraph.Graph.ToBytes(), "finetune");
        using var sgd = new GraphRunner(factory, sgdGraph.Graph.ToBytes(), "finetune_sgd");

        // The network's state starts from the given weights; the optimizer's slots from zeros.
        using var state = new PingPongState(factory);
        var network = ContractBinder.StateTensors([contracts[0]]).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, type, shape) in ContractBinder.StateTensors(contracts))
            state.Add(name, !network.Contains(name) ? HostTensor.Filled(type, shape, 0)
                : start.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"fine-tune: no starting value for '{name}'"));

        using var tensors = new GraphTensors(factory);
        foreach (var c in contracts) tensors.AllocateFor(c);
        var images = tensors[HostRole.Images];
        var labelT = tensors[HostRole.Labels];
        var lrT = tensors[HostRole.LearningRate];
        var loss = tensors[HostRole.Loss];
        using var ftBinding = ContractBinder.Bind(ft, contracts[0], state, tensors);
        using var sgdBinding = ContractBinder.Bind(sgd, contracts[1], state, tensors);

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
