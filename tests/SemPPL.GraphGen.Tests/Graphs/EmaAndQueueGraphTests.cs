using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;

namespace SemPPL.GraphGen.Tests.Graphs;

public sealed class EmaGraphTests
{
    public static TheoryData<int> VectorCounts => [1, 3];

    /// <summary>A matrix and <paramref name="vectors"/> 1-D tensors (several: updated as one concatenated vector).</summary>
    [Theory]
    [MemberData(nameof(VectorCounts))]
    public void Ema_matches_reference(int vectors)
    {
        (string Name, long[] Shape)[] tensors = vectors == 1 ? [("enc.conv.weight", [2, 3]), ("bn.running_mean", [4])]
            : [("enc.conv.weight", [2, 3]), ("bn.weight", [4]), ("bn.running_mean", [4]), ("head.bias", [5])];
        var built = EmaGraph.Build(tensors);
        Assert.Equal(vectors == 1 ? 0 : 2, built.Graph.Nodes.Count(n => n.OpType == "Concat"));
        Assert.Equal(2 * 3, built.Graph.Nodes.Count(n => n.OpType is "Mul" or "Add")); // the matrix's, and the vectors' at once (per tensor it would be 4 * 3)
        var rng = new Random(7);
        const float tau = 0.93f;
        var feeds = new Dictionary<string, HostTensor> { ["tau"] = HostTensor.Scalar(tau) };
        var data = new Dictionary<string, (float[] T, float[] O)>();
        foreach (var (name, shape) in tensors)
        {
            int n = (int)shape.Aggregate(1L, (a, b) => a * b);
            var t = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var o = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            data[name] = (t, o);
            feeds[$"target.{name}"] = HostTensor.Float(shape, t);
            feeds[$"online.{name}"] = HostTensor.Float(shape, o);
        }
        var outs = OrtRunner.Run(built.Graph, feeds);
        Assert.Equal(tensors.Length, outs.Count);
        foreach (var (name, shape) in tensors)
        {
            var y = outs[$"new.target.{name}"];
            Assert.Equal(shape, y.Shape);
            var (t, o) = data[name];
            for (int i = 0; i < t.Length; i++)
            {
                double expected = (double)tau * t[i] + (1 - (double)tau) * o[i];
                Assert.True(Math.Abs(y.Floats[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"{name}[{i}]: {y.Floats[i]} vs {expected}");
            }
        }
        Assert.Contains(new StatePair("target.bn.running_mean", "new.target.bn.running_mean"), built.State);
    }
}

public sealed class QueueGraphTests
{
    private const long D = 3;

    /// <summary>A plain C# FIFO ring buffer: every push written in order at the pointer.</summary>
    private sealed class Ring(long capacity)
    {
        public readonly float[] E = new float[capacity * D];
        public readonly long[] Lab = Enumerable.Repeat(-1L, (int)capacity).ToArray();
        public long Pointer, Count;

        public void Push(float[] e, long[] labels)
        {
            for (int i = 0; i < labels.Length; i++)
            {
                Array.Copy(e, i * D, E, Pointer * D, D);
                Lab[Pointer] = labels[i];
                Pointer = (Pointer + 1) % capacity;
                Count = Math.Min(Count + 1, capacity);
            }
        }
    }

    private static void PushMany(long capacity, long n, int pushes, Action<int, Ring>? check = null)
    {
        var built = QueueGraph.Build(capacity, D, n);
        var ring = new Ring(capacity);
        var feeds = new Dictionary<string, HostTensor>
        {
            ["queue.embeddings"] = HostTensor.Float([capacity, D], (float[])ring.E.Clone()),
            ["queue.labels"] = HostTensor.Int64([capacity], (long[])ring.Lab.Clone()),
            ["queue.pointer"] = HostTensor.Int64([], [0]),
            ["queue.count"] = HostTensor.Int64([], [0]),
        };
        int next = 0;
        for (int p = 0; p < pushes; p++)
        {
            var e = Enumerable.Range(0, (int)(n * D)).Select(i => (float)(next * 10 + i)).ToArray();
            var l = Enumerable.Range(0, (int)n).Select(i => (long)(next * 100 + i)).ToArray();
            next++;
            feeds["push.embeddings"] = HostTensor.Float([n, D], e);
            feeds["push.labels"] = HostTensor.Int64([n], l);
            var outs = OrtRunner.Run(built.Graph, feeds);
            ring.Push(e, l);
            Assert.Equal(ring.E, outs["new.queue.embeddings"].Floats);
            Assert.Equal(ring.Lab, outs["new.queue.labels"].Longs);
            Assert.Equal(ring.Pointer, outs["new.queue.pointer"].Longs[0]);
            Assert.Equal(ring.Count, outs["new.queue.count"].Longs[0]);
            check?.Invoke(p, ring);
            foreach (var pair in built.State) feeds[pair.Input] = outs[pair.Output];
        }
    }

    [Fact]
    public void Pushes_wrap_around_like_a_ring_buffer()
    {
        // C = 7, n = 3: pointers 3, 6, 2 (wrap), 5, 1 (wrap); count 3, 6, 7, 7, 7.
        long[] counts = [3, 6, 7, 7, 7];
        PushMany(7, 3, 5, (p, ring) => Assert.Equal(counts[p], ring.Count));
    }

    [Fact]
    public void Push_larger_than_capacity_keeps_the_last_pushes()
    {
        PushMany(4, 6, 3, (p, ring) => Assert.Equal(4, ring.Count));
    }

    [Fact]
    public void Valid_entries_are_the_first_count_slots()
    {
        PushMany(10, 4, 2, (p, ring) => Assert.True(ring.Lab.Take((int)ring.Count).All(l => l >= 0) && ring.Lab.Skip((int)ring.Count).All(l => l == -1)));
    }

    [Fact]
    public void Io_description()
    {
        var built = QueueGraph.Build(8, 4, 2);
        Assert.Equal(new long[] { 8, 4 }, built.Input("queue.embeddings").Shape);
        Assert.Equal(DType.Int64, built.Input("queue.pointer").Type);
        Assert.Equal(new long[] { 2, 4 }, built.Input("push.embeddings").Shape);
        Assert.Equal(["new.queue.embeddings", "new.queue.labels", "new.queue.pointer", "new.queue.count"], built.Outputs.Select(o => o.Name));
        Assert.Equal(4, built.State.Count);
    }
}
