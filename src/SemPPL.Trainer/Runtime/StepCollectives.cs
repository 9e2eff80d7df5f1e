using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// The collectives a data-parallel artifact set declares in its contracts, run before the graph that reads them: an
/// all-gather for each gathered input (every rank's value of a passed tensor, rank-major) and an in-place sum for each
/// summed input. Buffers are resolved once; running them allocates nothing.
/// </summary>
public sealed class StepCollectives
{
    private readonly ICommunicator _communicator;
    private readonly (CollectiveBuffer Send, CollectiveBuffer Receive, bool Gather)[][] _before;

    /// <param name="graphs">The step's contracts in step order.</param>
    public StepCollectives(ICommunicator communicator, IReadOnlyList<GraphContract> graphs, GraphTensors tensors)
    {
        _communicator = communicator;
        _before = graphs.Select(c => c.Inputs.Where(i => i.Kind is IoKind.Gathered or IoKind.Summed).Select(i =>
        {
            var source = tensors.Passed(i.Tensor!);
            var send = Buffer(source);
            if (i.Kind == IoKind.Summed)
            {
                if (send.Type != ElementType.Float32) throw new InvalidDataException($"summed input '{i.Name}' is {source.ShapeText}: sums are over floats");
                return (send, send, false);
            }
            var receive = Buffer(tensors.Gathered(i.Name));
            if (receive.Count != send.Count * communicator.WorldSize)
                throw new InvalidDataException($"gathered input '{i.Name}' holds {receive.Count} elements, not {communicator.WorldSize} x {send.Count}: " +
                                               "the artifact set was made for another world size; regenerate it");
            return (send, receive, true);
        }).ToArray()).ToArray();
    }

    /// <summary>Graphs of the step that read a collective's result.</summary>
    public int Count => _before.Sum(b => b.Length);

    /// <summary>Runs the collectives graph <paramref name="index"/> reads.</summary>
    public void Before(int index)
    {
        foreach (var (send, receive, gather) in _before[index])
        {
            if (gather) _communicator.AllGather(send, receive);
            else _communicator.AllReduce(send, ReduceOperation.Sum);
        }
    }

    private static CollectiveBuffer Buffer(DeviceTensor t) => new(t.DataPointer, t.ElementCount, t.Type switch
    {
        DType.Float => ElementType.Float32,
        DType.Int64 => ElementType.Int64,
        _ => throw new InvalidDataException($"'{t.Name}' is {t.ShapeText}: collectives move float32 and int64 tensors"),
    });
}
