using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Tests.Support;

/// <summary>Runs a built graph once on the ORT CPU provider with host tensors (test use only).</summary>
public static class OrtRunner
{
    public static Dictionary<string, HostTensor> Run(GraphBuilder g, IReadOnlyDictionary<string, HostTensor> feeds, bool optimize = true)
        => Run(g.ToBytes(), feeds, optimize);

    public static Dictionary<string, HostTensor> Run(byte[] model, IReadOnlyDictionary<string, HostTensor> feeds, bool optimize = true)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL };
        options.IntraOpNumThreads = 2;
        using var session = new InferenceSession(model, options);
        var disposables = new List<IDisposable>();
        try
        {
            var ortInputs = new Dictionary<string, OrtValue>();
            foreach (var name in session.InputNames)
            {
                if (!feeds.TryGetValue(name, out var t)) throw new ArgumentException($"no feed for graph input '{name}'");
                var v = ToOrt(t);
                disposables.Add(v);
                ortInputs[name] = v;
            }
            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames.ToArray();
            using var results = session.Run(runOptions, ortInputs.Keys.ToArray(), ortInputs.Values.ToArray(), outputNames);
            var outputs = new Dictionary<string, HostTensor>();
            for (int i = 0; i < outputNames.Length; i++) outputs[outputNames[i]] = FromOrt(results[i]);
            return outputs;
        }
        finally
        {
            foreach (var d in disposables) d.Dispose();
        }
    }

    public static OrtValue ToOrt(HostTensor t) => t.Type switch
    {
        DType.Float => OrtValue.CreateTensorValueFromMemory(t.Floats, t.Shape),
        DType.Double => OrtValue.CreateTensorValueFromMemory(t.Doubles, t.Shape),
        DType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Longs, t.Shape),
        DType.Int32 => OrtValue.CreateTensorValueFromMemory(t.Ints, t.Shape),
        DType.Bool => OrtValue.CreateTensorValueFromMemory(t.Bools, t.Shape),
        _ => throw new NotSupportedException(t.Type.ToString()),
    };

    public static HostTensor FromOrt(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        return info.ElementDataType switch
        {
            TensorElementType.Float => HostTensor.Float(shape, v.GetTensorDataAsSpan<float>().ToArray()),
            TensorElementType.Double => HostTensor.Double(shape, v.GetTensorDataAsSpan<double>().ToArray()),
            TensorElementType.Int64 => HostTensor.Int64(shape, v.GetTensorDataAsSpan<long>().ToArray()),
            TensorElementType.Int32 => HostTensor.Int32(shape, v.GetTensorDataAsSpan<int>().ToArray()),
            TensorElementType.Bool => HostTensor.Bool(shape, v.GetTensorDataAsSpan<bool>().ToArray()),
            _ => throw new NotSupportedException(info.ElementDataType.ToString()),
        };
    }
}
