using SemPPL.GraphGen.Evaluation;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Trainer.Evaluation;

/// <summary>k-NN top-1/top-5 with the labelled training embeddings as the bank (weighted votes, KnnClassifierGraph).</summary>
public static class KnnEvaluator
{
    public static (double Top1, double Top5) Evaluate(SessionFactory factory, float[] bank, IReadOnlyList<int> bankLabels,
        float[] queries, IReadOnlyList<int> queryLabels, long featureDim, int k, float temperature, int numClasses, int chunk = 256)
    {
        int nb = bankLabels.Count, nq = queryLabels.Count;
        chunk = Math.Min(chunk, nq);
        var g = KnnClassifierGraph.Build(nb, chunk, featureDim, k, numClasses, temperature);
        using var runner = new GraphRunner(factory, g.ToBytes(), "knn");
        using var io = new DeviceState(factory);
        var bankT = io.Upload("bank", HostTensor.Float([nb, featureDim], bank));
        var labelsT = io.Upload("bank_labels", HostTensor.Int64([nb], bankLabels.Select(l => (long)l).ToArray()));
        var q = io.Add(DeviceTensor.AllocateHost(factory, "queries", DType.Float, chunk, featureDim));
        int r = (int)runner.Outputs["top_classes"].Shape[1];
        var top = io.Add(DeviceTensor.AllocateHost(factory, "top_classes", DType.Int64, chunk, r));
        using var binding = runner.Bind(new Dictionary<string, DeviceTensor> { ["bank"] = bankT, ["bank_labels"] = labelsT, ["queries"] = q },
            new Dictionary<string, DeviceTensor> { ["top_classes"] = top });
        var ranked = new long[nq * r];
        for (int start = 0; start < nq; start += chunk)
        {
            int n = Math.Min(chunk, nq - start);
            var dst = q.HostSpan<float>();
            for (int i = 0; i < chunk; i++)
                queries.AsSpan((int)((start + Math.Min(i, n - 1)) * featureDim), (int)featureDim).CopyTo(dst.Slice((int)(i * featureDim)));
            binding.Run();
            top.HostSpan<long>()[..(n * r)].CopyTo(ranked.AsSpan(start * r));
        }
        return Accuracy.FromRanked(ranked, r, queryLabels);
    }
}
