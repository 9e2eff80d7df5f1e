using Google.Protobuf;
using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Export;

/// <summary>
/// Turns an inference graph whose parameters are graph inputs (eval.onnx built at opset 17) into the
/// deployable model: trained values become initializers, each Conv followed by an inference-mode
/// BatchNormalization is folded into one Conv, the classifier can be dropped, and unused nodes and
/// initializers are pruned. The batch dimension stays dynamic.
/// </summary>
public static class ModelExporter
{
    public static ModelProto Export(ModelProto evalModel, IReadOnlyDictionary<string, HostTensor> weights,
        bool includeClassifier, string logitsOutput = "logits")
    {
        var model = evalModel.Clone();
        var g = model.Graph;

        // 1. Parameters: graph inputs -> initializers.
        foreach (var input in g.Input.ToList())
        {
            if (!weights.TryGetValue(input.Name, out var t)) continue;
            g.Input.Remove(input);
            g.Initializer.Add(t.ToProto(input.Name));
        }
        var missing = g.Input.Where(i => i.Name != "images").Select(i => i.Name).ToList();
        if (missing.Count > 0) throw new ArgumentException($"export: no trained value for graph input(s) {string.Join(", ", missing.Take(5))}");

        // 2. Drop the classifier output if asked.
        if (!includeClassifier)
            foreach (var o in g.Output.Where(o => o.Name == logitsOutput).ToList()) g.Output.Remove(o);

        FoldBatchNorm(g);
        Prune(g);
        model.ProducerName = "SemPPL.Ort semppl export";
        return model;
    }

    /// <summary>Conv -> BatchNormalization (inference, constant statistics, Conv output used only by the BN) becomes one Conv.</summary>
    public static int FoldBatchNorm(GraphProto g)
    {
        var inits = g.Initializer.ToDictionary(t => t.Name);
        var consumers = new Dictionary<string, int>();
        foreach (var n in g.Node) foreach (var i in n.Input) consumers[i] = consumers.GetValueOrDefault(i) + 1;
        var graphOutputs = g.Output.Select(o => o.Name).ToHashSet();
        int folded = 0;
        foreach (var bn in g.Node.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            var conv = g.Node.FirstOrDefault(n => n.OpType == "Conv" && n.Output[0] == bn.Input[0]);
            if (conv is null || consumers.GetValueOrDefault(conv.Output[0]) != 1 || graphOutputs.Contains(conv.Output[0])) continue;
            if (!bn.Input.Skip(1).All(inits.ContainsKey) || !inits.ContainsKey(conv.Input[1])) continue;
            if (conv.Input.Count > 2 && conv.Input[2] != "" && !inits.ContainsKey(conv.Input[2])) continue;

            float eps = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
            var scale = Floats(inits[bn.Input[1]]); var shift = Floats(inits[bn.Input[2]]);
            var mean = Floats(inits[bn.Input[3]]); var variance = Floats(inits[bn.Input[4]]);
            var wProto = inits[conv.Input[1]];
            var w = Floats(wProto);
            int outChannels = (int)wProto.Dims[0];
            int per = w.Length / outChannels;
            var bias = conv.Input.Count > 2 && conv.Input[2] != "" ? Floats(inits[conv.Input[2]]) : new float[outChannels];
            var newW = new float[w.Length];
            var newB = new float[outChannels];
            for (int o = 0; o < outChannels; o++)
            {
                double f = scale[o] / Math.Sqrt(variance[o] + eps);
                for (int k = 0; k < per; k++) newW[o * per + k] = (float)(w[o * per + k] * f);
                newB[o] = (float)((bias[o] - mean[o]) * f + shift[o]);
            }
            string wName = conv.Input[1] + ".folded", bName = conv.Input[1] + ".folded_bias";
            g.Initializer.Add(HostTensor.Float(wProto.Dims.ToArray(), newW).ToProto(wName));
            g.Initializer.Add(HostTensor.Float([outChannels], newB).ToProto(bName));
            var newInputs = new[] { conv.Input[0], wName, bName };
            conv.Input.Clear();
            conv.Input.AddRange(newInputs);
            conv.Output[0] = bn.Output[0];
            g.Node.Remove(bn);
            folded++;
        }
        return folded;
    }

    /// <summary>Removes nodes that no graph output needs, then initializers no node uses.</summary>
    public static void Prune(GraphProto g)
    {
        var needed = g.Output.Select(o => o.Name).ToHashSet();
        var keep = new HashSet<NodeProto>();
        foreach (var n in g.Node.Reverse())
            if (n.Output.Any(needed.Contains))
            {
                keep.Add(n);
                foreach (var i in n.Input) needed.Add(i);
            }
        foreach (var n in g.Node.Where(n => !keep.Contains(n)).ToList()) g.Node.Remove(n);
        foreach (var t in g.Initializer.Where(t => !needed.Contains(t.Name)).ToList()) g.Initializer.Remove(t);
        foreach (var i in g.Input.Where(i => !needed.Contains(i.Name)).ToList()) g.Input.Remove(i);
    }

    private static float[] Floats(TensorProto t) => HostTensor.FromProto(t).Floats;

    public static void Save(ModelProto model, string path)
    {
        // Temp file, flushed to disk, renamed: a reader never sees half a model.
        string temp = path + ".tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            model.WriteTo(fs);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
