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
    public static BuiltGraph Build(long capacity, long dim, long pushCount) => Build(capacity, dim, pushCount, null);

    /// <summary>
    /// queue.onnx of a data-parallel set: the push inputs are every rank's <c>push.embeddings</c> [L bl, D] and
    /// <c>push.labels</c> [L bl] gathered in rank order (<c>push.embeddings.gathered</c> [N, L bl, D],
    /// <c>push.labels.gathered</c> [N, L bl]), reordered in-graph to the one-process push order (view-major, then the
    /// job's labelled images: rank-major), so every rank leaves the same queue one process would.
    /// </summary>
    public static BuiltGraph BuildForRanks(long capacity, long dim, long largeViews, long labelledPerRank, long worldSize)
    {
        if (largeViews < 1 || labelledPerRank < 1 || worldSize < 1) throw new ArgumentException("queue push: views, labelled images and ranks must be positive");
        return Build(capacity, dim, largeViews * labelledPerRank * worldSize, (largeViews, labelledPerRank, worldSize));
    }

    private static BuiltGraph Build(long capacity, long dim, long pushCount, (long Views, long Labelled, long Ranks)? gathered)
    {
        if (capacity < 1 || dim < 1 || pushCount < 1) throw new ArgumentException("queue capacity, dim and push count must be positive");
        var g = new GraphBuilder("queue") { DocString = $"ring-buffer push: capacity {capacity}, dim {dim}, {pushCount} per push" };
        var qe = g.Input(QueueEmbeddings, DType.Float, capacity, dim);
        var ql = g.Input(QueueLabels, DType.Int64, capacity);
        var ptr = g.Input(QueuePointer, DType.Int64);
        var cnt = g.Input(QueueCount, DType.Int64);
        var contract = new ContractBuilder();
        Value pe, pl;
        if (gathered is var (views, labelled, ranks))
        {
            // [N, L bl, ...] -> [N, L, bl, ...] -> [L, N, bl, ...] -> [L N bl, ...]: view-major, then rank r's labelled image j at r bl + j.
            var ge = g.Input(PushEmbeddingsGathered, DType.Float, ranks, views * labelled, dim);
            var gl = g.Input(PushLabelsGathered, DType.Int64, ranks, views * labelled);
            pe = g.Reshape(g.Transpose(g.Reshape(ge, ranks, views, labelled, dim), 1, 0, 2, 3), pushCount, dim);
            pl = g.Reshape(g.Transpose(g.Reshape(gl, ranks, views, labelled), 1, 0, 2), pushCount);
            contract.Gathered(PushEmbeddingsGathered, PushEmbeddings).Gathered(PushLabelsGathered, PushLabels);
        }
        else
        {
            pe = g.Input(PushEmbeddings, DType.Float, pushCount, dim);
            pl = g.Input(PushLabels, DType.Int64, pushCount);
            contract.Passed(PushEmbeddings).Passed(PushLabels);
        }

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
        foreach (var state in new[] { QueueEmbeddings, QueueLabels, QueuePointer, QueueCount })
            contract.StateRead(state).StateWritten(New(state), state, replaces: state);
        return new BuiltGraph(g, contract.Finish(g));
    }
}
