using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Tests.Support;

/// <summary>
/// Runs the graphs of one artifact set as the ranks of a data-parallel job would, in one process (test use only): every
/// rank keeps its own state and passed values; inputs are bound by their manifest kind, a Gathered input is every rank's
/// passed value stacked in rank order and a Summed input their sum (what the trainer's collectives compute).
/// </summary>
public sealed class RankedStep : IDisposable
{
    private readonly string _dir;
    private readonly Dictionary<string, InferenceSession> _sessions = [];
    private readonly SessionOptions _options = new() { IntraOpNumThreads = 2 };

    public RankedStep(string dir, Manifest manifest, int ranks, Func<StateEntry, HostTensor> initialState)
    {
        _dir = dir;
        Manifest = manifest;
        State = Enumerable.Range(0, ranks).Select(_ => manifest.State.ToDictionary(e => e.Name, initialState)).ToArray();
        Passed = Enumerable.Range(0, ranks).Select(_ => new Dictionary<string, HostTensor>()).ToArray();
        Outputs = Enumerable.Range(0, ranks).Select(_ => new Dictionary<string, HostTensor>()).ToArray();
    }

    public Manifest Manifest { get; }
    public int Ranks => State.Length;
    /// <summary>Per rank: state tensor name -> current value.</summary>
    public Dictionary<string, HostTensor>[] State { get; }
    /// <summary>Per rank: passed value -> value.</summary>
    public Dictionary<string, HostTensor>[] Passed { get; }
    /// <summary>Per rank: "graph/output" -> the latest value.</summary>
    public Dictionary<string, HostTensor>[] Outputs { get; }

    /// <summary>Runs graph <paramref name="key"/> on every rank; <paramref name="host"/> gives rank r's value of a host-fed role.</summary>
    public void Run(string key, Func<int, HostRole, HostTensor> host)
    {
        var entry = Manifest.Graphs[key];
        if (!_sessions.TryGetValue(key, out var session))
            _sessions[key] = session = new InferenceSession(Path.Combine(_dir, entry.File), _options);
        var results = new Dictionary<string, HostTensor>[Ranks];
        for (int r = 0; r < Ranks; r++)
        {
            var feeds = entry.Inputs.ToDictionary(i => i.Name, i => i.Kind switch
            {
                IoKind.StateRead => State[r][i.Tensor!],
                IoKind.HostFed => host(r, i.Role!.Value),
                IoKind.Passed => Passed[r][i.Tensor!],
                IoKind.Gathered => Stack(Passed.Select(p => p[i.Tensor!]).ToList()),
                IoKind.Summed => Sum(Passed.Select(p => p[i.Tensor!]).ToList()),
                _ => throw new InvalidOperationException($"input '{i.Name}' of kind {i.Kind}"),
            });
            results[r] = Run(session, feeds);
        }
        // Only after every rank ran: a graph reads its own rank's values from before it.
        for (int r = 0; r < Ranks; r++)
            foreach (var o in entry.Outputs)
            {
                var value = results[r][o.Name];
                Outputs[r][key + "/" + o.Name] = value;
                if (o.Kind == IoKind.StateWritten) State[r][o.Tensor!] = value;
                else if (o.Kind == IoKind.Passed) Passed[r][o.Tensor!] = value;
            }
    }

    private static Dictionary<string, HostTensor> Run(InferenceSession session, Dictionary<string, HostTensor> feeds)
    {
        var inputs = session.InputNames.Select(n => OrtRunner.ToOrt(feeds[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            var names = session.OutputNames.ToArray();
            using var results = session.Run(runOptions, session.InputNames.ToArray(), inputs, names);
            return names.Select((n, i) => (n, OrtRunner.FromOrt(results[i]))).ToDictionary(x => x.n, x => x.Item2);
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    /// <summary>[N, ...]: the values in rank order.</summary>
    public static HostTensor Stack(IReadOnlyList<HostTensor> values)
    {
        long[] shape = [values.Count, .. values[0].Shape];
        return values[0].Type switch
        {
            DType.Float => HostTensor.Float(shape, values.SelectMany(v => v.Floats).ToArray()),
            DType.Int64 => HostTensor.Int64(shape, values.SelectMany(v => v.Longs).ToArray()),
            _ => throw new NotSupportedException(values[0].Type.ToString()),
        };
    }

    public static HostTensor Sum(IReadOnlyList<HostTensor> values) =>
        HostTensor.Float(values[0].Shape, Enumerable.Range(0, values[0].Floats.Length).Select(k => values.Sum(v => v.Floats[k])).ToArray());

    /// <summary>The entries <paramref name="indices"/> of <paramref name="t"/> along <paramref name="axis"/>, in that order.</summary>
    public static HostTensor Rows(HostTensor t, int axis, IReadOnlyList<long> indices)
    {
        long outer = t.Shape[..axis].Aggregate(1L, (a, d) => a * d), inner = t.Shape[(axis + 1)..].Aggregate(1L, (a, d) => a * d);
        long n = t.Shape[axis];
        long[] shape = [.. t.Shape];
        shape[axis] = indices.Count;
        T[] Pick<T>(T[] src)
        {
            var dst = new T[outer * indices.Count * inner];
            for (long o = 0; o < outer; o++)
                for (int k = 0; k < indices.Count; k++)
                    Array.Copy(src, (o * n + indices[k]) * inner, dst, (o * indices.Count + k) * inner, inner);
            return dst;
        }
        return t.Type switch
        {
            DType.Float => HostTensor.Float(shape, Pick(t.Floats)),
            DType.Int64 => HostTensor.Int64(shape, Pick(t.Longs)),
            _ => throw new NotSupportedException(t.Type.ToString()),
        };
    }

    public void Dispose()
    {
        foreach (var s in _sessions.Values) s.Dispose();
        _options.Dispose();
    }
}
