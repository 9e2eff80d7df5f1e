using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks.Cuda;

/// <summary>Median and minimum of timed runs, in ms.</summary>
public readonly record struct Timing(double Median, double Min)
{
    public static Timing Of(IReadOnlyList<double> ms)
    {
        var s = ms.Order().ToArray();
        return new(s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2, s[0]);
    }

    /// <summary>GB/s moving <paramref name="bytes"/> in the median time.</summary>
    public double GigabytesPerSecond(long bytes) => bytes / (Median * 1e-3) / 1e9;

    public override string ToString() => $"{Median,8:F3} ms (min {Min:F3})";
}

/// <summary>
/// One graph opened as the trainer opens it (<see cref="SessionFactory"/>: device, options, CPU lowering) with every
/// input and output a device tensor bound once, as the step binds its state: a timed run is the graph's kernels and
/// the run's end-of-run synchronisation, no host copies.
/// </summary>
public sealed class BoundGraph : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly Dictionary<string, DeviceTensor> _tensors = [];

    public BoundGraph(SessionFactory factory, byte[] model, IReadOnlyDictionary<string, HostTensor> inputs)
    {
        _session = factory.CreateSession(model);
        _binding = _session.CreateIoBinding();
        try
        {
            foreach (var name in _session.InputNames)
            {
                var t = DeviceTensor.FromHost(factory, name, inputs[name]);
                _tensors[name] = t;
                _binding.BindInput(name, t.Value);
            }
            foreach (var (name, meta) in _session.OutputMetadata)
            {
                var t = DeviceTensor.Allocate(factory, name, DeviceTensor.FromOrt(meta.ElementDataType), meta.Dimensions.Select(d => (long)d).ToArray());
                _tensors[name] = t;
                _binding.BindOutput(name, t.Value);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public BoundGraph(SessionFactory factory, GraphBuilder graph, IReadOnlyDictionary<string, HostTensor> inputs) : this(factory, graph.ToBytes(), inputs) { }

    /// <summary><paramref name="warmup"/> untimed runs, then <paramref name="runs"/> timed ones.</summary>
    public Timing Time(int warmup, int runs)
    {
        for (int i = 0; i < warmup; i++) _session.RunWithBinding(_runOptions, _binding);
        var ms = new List<double>(runs);
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            _session.RunWithBinding(_runOptions, _binding);
            ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return Timing.Of(ms);
    }

    /// <summary>An output of the last run, copied to the host.</summary>
    public HostTensor Output(string name) => _tensors[name].Download();

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _binding.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
