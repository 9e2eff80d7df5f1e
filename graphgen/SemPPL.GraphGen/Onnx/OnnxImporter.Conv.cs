using SemPPL.GraphGen.Layers;

namespace SemPPL.GraphGen.Onnx;

// Handlers of convolution, pooling and BatchNormalization (GraphBuilder.Conv.cs, Layers.BatchNorm).
public static partial class OnnxImporter
{
    private sealed partial class Session
    {
        // Window attributes (auto_pad, pads, strides) are resolved by NodeCtx.Window.
        private static void AddConvHandlers(Dictionary<string, Func<NodeCtx, Value?[]>> h)
        {
            h["Conv"] = c =>
            {
                var x = c.V(0); var w = c.V(1);
                c.CheckKernel(w);
                var (strides, pads, dilations) = c.Window(x, w.Shape.Skip(2).ToArray());
                return [c.G.Conv(x, w, c.VOpt(2), strides, pads, dilations, c.Int("group", 1))];
            };
            h["ConvTranspose"] = c =>
            {
                var x = c.V(0); var w = c.V(1);
                c.CheckKernel(w);
                if (c.Has("output_shape")) throw new UnsupportedOnnxOpException("ConvTranspose", c.Node.Name, $"OnnxImporter: {c}: the output_shape attribute is not supported (give pads and output_padding)");
                string autoPad = c.Str("auto_pad") ?? "NOTSET";
                if (autoPad is not ("NOTSET" or "VALID")) throw new UnsupportedOnnxOpException("ConvTranspose", c.Node.Name, $"OnnxImporter: {c}: auto_pad {autoPad} is not supported");
                return [c.G.ConvTranspose(x, w, c.VOpt(2), c.Ints("strides"), autoPad == "VALID" ? null : c.Ints("pads"), c.Ints("output_padding"), c.Ints("dilations"), c.Int("group", 1))];
            };
            h["MaxPool"] = c =>
            {
                var x = c.V(0);
                var kernel = c.Ints("kernel_shape") ?? throw new InvalidDataException($"{c}: kernel_shape is required");
                var (strides, pads, dilations) = c.Window(x, kernel);
                if (dilations.Any(d => d != 1)) throw new UnsupportedOnnxOpException("MaxPool", c.Node.Name, $"OnnxImporter: {c}: dilated MaxPool is not supported");
                if (c.Int("storage_order", 0) != 0) throw new UnsupportedOnnxOpException("MaxPool", c.Node.Name, $"OnnxImporter: {c}: storage_order 1 is not supported");
                bool ceil = c.Int("ceil_mode", 0) != 0;
                if (c.Node.Output.Count > 1 && c.Node.Output[1].Length > 0)
                {
                    var (y, i) = c.G.MaxPoolWithIndices(x, kernel, strides, pads, ceil);
                    return [y, i];
                }
                return [c.G.MaxPool(x, kernel, strides, pads, ceil)];
            };
            h["AveragePool"] = c =>
            {
                var x = c.V(0);
                var kernel = c.Ints("kernel_shape") ?? throw new InvalidDataException($"{c}: kernel_shape is required");
                var (strides, pads, dilations) = c.Window(x, kernel);
                if (dilations.Any(d => d != 1)) throw new UnsupportedOnnxOpException("AveragePool", c.Node.Name, $"OnnxImporter: {c}: dilated AveragePool is not supported");
                return [c.G.AveragePool(x, kernel, strides, pads, c.Int("count_include_pad", 0) != 0, c.Int("ceil_mode", 0) != 0)];
            };
            h["GlobalAveragePool"] = c => [c.G.GlobalAveragePool(c.V(0))];
            h["BatchNormalization"] = c => c.S.BatchNormalization(c);
        }

        private Value?[] BatchNormalization(NodeCtx c)
        {
            var x = c.V(0);
            float eps = c.Float("epsilon", 1e-5f), momentum = c.Float("momentum", 0.9f);
            bool training = _o.BatchNorm switch
            {
                BatchNormImport.Training => true,
                BatchNormImport.Inference => false,
                _ => c.Int("training_mode", 0) != 0,
            };
            for (int i = 1; i < c.Node.Input.Count; i++)
                (i >= 3 ? _usedAsStat : _usedOtherwise).Add(c.Node.Input[i]);
            var scale = c.V(1); var bias = c.V(2); var mean = c.V(3); var variance = c.V(4);
            if (!training) return [BatchNorm.Inference(_g, x, scale, bias, mean, variance, eps)];
            var r = BatchNorm.Training(_g, x, scale, bias, mean, variance, momentum, eps);
            _updates.Add(new RunningStatUpdate(c.Node.Input[3], mean, r.NewRunningMean));
            _updates.Add(new RunningStatUpdate(c.Node.Input[4], variance, r.NewRunningVar));
            return [r.Y, r.NewRunningMean, r.NewRunningVar];
        }
    }
}
