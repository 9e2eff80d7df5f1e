using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using static SemPPL.GraphGen.Artifacts.ArtifactNames;

namespace SemPPL.GraphGen.Graphs;

/// <summary>
/// queue.onnx: push n labelled embeddings into a FIFO ring buffer of capacity C.
/// <para>Inputs: <c>queue.embeddings</c> float[C,D], <c>queue.labels</c> int64[C],
/// <c>queue.pointer</c> int64[] (next write slot, in [0, C)), <c>queue.count</c> int64[] (valid entries),
/// <c>push.embeddings</c> float[n,D], <c>push.labels</c> int64[n].</para>
/// <para>Outputs: <c>new.queue.embeddings</c>, <c>new.queue.labels</c>,
/// <c>new.queue.pointer</c> = (pointer + n) mod C, <c>new.queue.count</c> = min(count + n, C).</para>
/// Push i is written at slot (pointer + i) mod C. When n &gt; C only the last C pushes are kept
/// (push i = n - C + j lands at slot (pointer + n - C + j) mod C), which is what writing all n in
/// order would leave; the pointer still advances by n. Starting from pointer = count = 0, the valid
/// entries are always slots 0..count-1 (until full, then all), as pseudolabel.onnx assumes.
/// </summary>
public static class QueueGraph
{
    public static BuiltGraph Build(long capacity, long dim, long pushCount)
    {
        if (capacity < 1 || dim < 1 || pushCount < 1) throw new ArgumentException("queue capacity, dim and push count must be positive");
        var g = new GraphBuilder("queue") { DocString = $"ring-buffer push: capacity {capacity}, dim {dim}, {pushCount} per push" };
        var qe = g.Input(QueueEmbeddings, DType.Float, capacity, dim);
        var ql = g.Input(QueueLabels, DType.Int64, capacity);
        var ptr = g.Input(QueuePointer, DType.Int64);
        var cnt = g.Input(QueueCount, DType.Int64);
        var pe = g.Input(PushEmbeddings, DType.Float, pushCount, dim);
        var pl = g.Input(PushLabels, DType.Int64, pushCount);

        long kept = Math.Min(pushCount, capacity), skip = pushCount - kept;
        if (skip > 0)
        {
            pe = g.Slice(pe, [skip], [pushCount], [0]);
            pl = g.Slice(pl, [skip], [pushCount], [0]);
        }
        var cap = g.ScalarI64(capacity);
        var offsets = g.Int64s(Enumerable.Range(0, (int)kept).Select(i => (long)(skip + i)).ToArray());
        var slots = g.Mod(g.Add(ptr, offsets), cap);              // [kept], distinct since kept <= C
        var idx = g.Unsqueeze(slots, 1);                           // [kept, 1]

        g.Output(g.ScatterND(qe, idx, pe), New(QueueEmbeddings));
        g.Output(g.ScatterND(ql, idx, pl), New(QueueLabels));
        g.Output(g.Mod(g.Add(ptr, g.ScalarI64(pushCount)), cap), New(QueuePointer));
        g.Output(g.Min(g.Add(cnt, g.ScalarI64(pushCount)), cap), New(QueueCount));
        var contract = new ContractBuilder().Passed(PushEmbeddings).Passed(PushLabels);
        foreach (var state in new[] { QueueEmbeddings, QueueLabels, QueuePointer, QueueCount })
            contract.StateRead(state).StateWritten(New(state), state, replaces: state);
        return new BuiltGraph(g, contract.Finish(g));
    }
}
