using SemPPL.GraphGen.Graphs;
using SemPPL.GraphGen.Onnx;
using SemPPL.GraphGen.Tests.Support;

namespace SemPPL.GraphGen.Tests.Graphs;

/// <summary>pseudolabel.onnx vs an independent C# (double) k-NN / semantic-positive reference.</summary>
public sealed class PseudoLabelGraphTests
{
    private sealed class Case
    {
        public long L, Bu, Bl, C, D, K, NSp, Classes;
        public float[] Z = [];          // [L,Bu,D]
        public long[] Labels = [];      // [Bl]
        public float[] Qe = [];         // [C,D]
        public long[] Ql = [];          // [C]
        public long Count;
        public float[] U = [];          // [N,nSp]
        public long N => Bu + Bl;

        public Dictionary<string, HostTensor> Feeds() => new()
        {
            ["target.unlabelled"] = HostTensor.Float([L, Bu, D], Z),
            ["labels"] = HostTensor.Int64([Bl], Labels),
            ["queue.embeddings"] = HostTensor.Float([C, D], Qe),
            ["queue.labels"] = HostTensor.Int64([C], Ql),
            ["queue.count"] = HostTensor.Int64([], [Count]),
            ["uniforms"] = HostTensor.Float([N, NSp], U),
        };

        public BuiltGraph Build() => PseudoLabelGraph.Build(L, Bu, Bl, C, D, K, NSp, Classes);
    }

    private sealed record Result(long[] Pseudo, long[] Batch, float[] Positives, float[] Mask);

    // ------------------------------------------------------------------ reference

    private static Result Reference(Case c)
    {
        var pseudo = new long[c.Bu];
        for (int b = 0; b < c.Bu; b++)
        {
            if (c.Count == 0) { pseudo[b] = -1; continue; }
            var votes = new int[c.Classes];
            var simSum = new double[c.Classes];
            for (int l = 0; l < c.L; l++)
            {
                var sims = new List<(double Sim, int Slot)>();
                for (int s = 0; s < c.Count; s++)
                {
                    double dot = 0;
                    for (int d = 0; d < c.D; d++) dot += (double)c.Z[(l * c.Bu + b) * c.D + d] * c.Qe[s * c.D + d];
                    sims.Add((dot, s));
                }
                foreach (var (sim, slot) in sims.OrderByDescending(x => x.Sim).ThenBy(x => x.Slot).Take((int)c.K))
                {
                    votes[c.Ql[slot]]++;
                    simSum[c.Ql[slot]] += sim;
                }
            }
            int best = 0;
            for (int y = 1; y < c.Classes; y++)
                if (votes[y] > votes[best] || (votes[y] == votes[best] && simSum[y] > simSum[best])) best = y;
            pseudo[b] = best;
        }
        var batch = pseudo.Concat(c.Labels).ToArray();
        var pos = new float[c.N * c.NSp * c.D];
        var mask = new float[c.N];
        for (int i = 0; i < c.N; i++)
        {
            var matches = Enumerable.Range(0, (int)c.Count).Where(s => c.Ql[s] == batch[i]).ToArray();
            if (matches.Length == 0) continue;
            mask[i] = 1;
            for (int s = 0; s < c.NSp; s++)
            {
                float u = c.U[i * c.NSp + s];
                long j = Math.Min((long)MathF.Floor(u * (float)matches.Length), matches.Length - 1);
                Array.Copy(c.Qe, matches[j] * c.D, pos, (i * c.NSp + s) * c.D, c.D);
            }
        }
        return new Result(pseudo, batch, pos, mask);
    }

    // ------------------------------------------------------------------ helpers

    private static float[] UnitRows(Random r, long rows, long d)
    {
        var x = new float[rows * d];
        for (long i = 0; i < rows; i++)
        {
            var v = Enumerable.Range(0, (int)d).Select(_ => r.NextDouble() * 2 - 1).ToArray();
            double n = Math.Sqrt(v.Sum(a => a * a));
            for (int k = 0; k < d; k++) x[i * d + k] = (float)(v[k] / n);
        }
        return x;
    }

    private static float[] Uniforms(Random r, long n) => Enumerable.Range(0, (int)n).Select(_ => (float)r.NextDouble()).ToArray();

    /// <summary>Random case; invalid slots hold garbage labels and copies of target views (sim 1) so masking matters.</summary>
    private static Case RandomCase(int seed, long k, long count, long C = 16, long classes = 4)
    {
        var r = new Random(seed);
        var c = new Case { L = 2, Bu = 6, Bl = 3, C = C, D = 8, K = k, NSp = 4, Classes = classes, Count = count };
        c.Z = UnitRows(r, c.L * c.Bu, c.D);
        c.Labels = Enumerable.Range(0, (int)c.Bl).Select(_ => (long)r.Next((int)classes)).ToArray();
        c.Qe = UnitRows(r, C, c.D);
        c.Ql = new long[C];
        for (long s = 0; s < C; s++)
        {
            if (s < count) c.Ql[s] = r.Next((int)classes);
            else
            {
                c.Ql[s] = s % 2 == 0 ? -1 : classes + 5;
                Array.Copy(c.Z, (s % (c.L * c.Bu)) * c.D, c.Qe, s * c.D, c.D);
            }
        }
        c.U = Uniforms(r, c.N * c.NSp);
        return c;
    }

    private static Result RunGraph(Case c)
    {
        var outs = OrtRunner.Run(c.Build().Graph, c.Feeds());
        var pos = outs["positives"];
        Assert.Equal(new[] { c.N, c.NSp, c.D }, pos.Shape);
        return new Result(outs["pseudo_labels"].Longs, outs["batch_labels"].Longs, pos.Floats, outs["positive_mask"].Floats);
    }

    private static Result CheckAgainstReference(Case c)
    {
        var expected = Reference(c);
        var actual = RunGraph(c);
        Assert.Equal(expected.Pseudo, actual.Pseudo);
        Assert.Equal(expected.Batch, actual.Batch);
        Assert.Equal(expected.Mask, actual.Mask);
        Assert.Equal(expected.Positives, actual.Positives);
        return actual;
    }

    // ------------------------------------------------------------------ tests

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Partially_filled_queue_matches_reference(long k)
    {
        var c = RandomCase(11 + (int)k, k, count: 11);
        var r = CheckAgainstReference(c);
        Assert.All(r.Pseudo, p => Assert.InRange(p, 0, c.Classes - 1));
        Assert.Contains(1f, r.Mask);
    }

    [Fact]
    public void Fewer_valid_entries_than_k_vote_only_with_valid_ones()
    {
        var c = RandomCase(5, k: 3, count: 2);
        var r = CheckAgainstReference(c);
        // Every pseudo-label is one of the two valid labels.
        Assert.All(r.Pseudo, p => Assert.Contains(p, c.Ql.Take(2)));
    }

    [Fact]
    public void Empty_queue_gives_minus_one_and_no_positives()
    {
        var c = RandomCase(3, k: 3, count: 0);
        var r = CheckAgainstReference(c);
        Assert.All(r.Pseudo, p => Assert.Equal(-1, p));
        Assert.Equal(c.Labels, r.Batch.Skip((int)c.Bu));
        Assert.All(r.Mask, m => Assert.Equal(0f, m));
        Assert.All(r.Positives, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Class_absent_from_queue_has_no_positive()
    {
        var c = RandomCase(21, k: 1, count: 12, classes: 4);
        for (int s = 0; s < c.Count; s++) c.Ql[s] = s % 3;     // queue holds classes 0..2 only
        c.Labels = [3, 1, 3];
        var r = CheckAgainstReference(c);
        int i0 = (int)c.Bu, i2 = (int)c.Bu + 2;
        Assert.Equal(0f, r.Mask[i0]);
        Assert.Equal(1f, r.Mask[i0 + 1]);
        Assert.Equal(0f, r.Mask[i2]);
        Assert.All(r.Positives.Skip(i0 * (int)(c.NSp * c.D)).Take((int)(c.NSp * c.D)), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Vote_ties_are_broken_by_summed_similarity()
    {
        // Queue: e0 (class 0), e1 (class 1), e2 (class 2) orthonormal. Two views, k = 1: one vote each
        // for classes 0 and 1; the summed similarity decides. Image 1 needs class 1 > class 0 to win,
        // so an argmax over votes alone (first index) would be wrong there.
        var c = new Case { L = 2, Bu = 3, Bl = 1, C = 4, D = 4, K = 1, NSp = 2, Classes = 3, Count = 3 };
        c.Qe = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        c.Ql = [0, 1, 2, 2];
        static float[] V(double a, int axis) { var v = new float[4]; v[axis] = (float)a; v[3] = (float)Math.Sqrt(1 - a * a); return v; }
        // view-major [L,Bu,D]; image 2: votes 2 for class 2 (sims 0.3 + 0.3) beat class-0/1 similarity mass elsewhere.
        float[][] view0 = [V(0.9, 0), V(0.5, 0), V(0.3, 2)];
        float[][] view1 = [V(0.6, 1), V(0.8, 1), V(0.3, 2)];
        c.Z = view0.Concat(view1).SelectMany(v => v).ToArray();
        c.Labels = [2];
        c.U = [0f, 0.5f, 0.1f, 0.9f, 0.2f, 0.7f, 0.3f, 0.6f];
        var r = CheckAgainstReference(c);
        Assert.Equal(new long[] { 0, 1, 2 }, r.Pseudo);
    }

    [Fact]
    public void Majority_beats_similarity()
    {
        // k = 3, L = 1: two weak votes for class 1 (sims 0.28, 0.14; sum 0.42) outvote one strong
        // vote for class 0 (sim 0.9); the class-2 entry is the farthest (sim -0.3).
        var c = new Case { L = 1, Bu = 1, Bl = 1, C = 4, D = 4, K = 3, NSp = 1, Classes = 3, Count = 4 };
        float s = (float)Math.Sqrt(0.5);
        c.Qe = [1, 0, 0, 0, 0, s, s, 0, 0, s, -s, 0, 0, 0, 0, -1];
        c.Ql = [0, 1, 1, 2];
        c.Z = [0.9f, 0.3f, 0.1f, 0.3f];
        c.Labels = [0];
        c.U = [0.5f, 0.5f];
        var r = CheckAgainstReference(c);
        Assert.Equal(new long[] { 1 }, r.Pseudo);
    }

    [Fact]
    public void Full_wrapped_queue_from_the_queue_graph()
    {
        const long C = 5, D = 8, n = 4;
        var r = new Random(99);
        var queue = QueueGraph.Build(C, D, n);
        var feeds = new Dictionary<string, HostTensor>
        {
            ["queue.embeddings"] = HostTensor.Float([C, D], new float[C * D]),
            ["queue.labels"] = HostTensor.Int64([C], Enumerable.Repeat(-1L, (int)C).ToArray()),
            ["queue.pointer"] = HostTensor.Int64([], [0]),
            ["queue.count"] = HostTensor.Int64([], [0]),
        };
        for (int p = 0; p < 3; p++)
        {
            feeds["push.embeddings"] = HostTensor.Float([n, D], UnitRows(r, n, D));
            feeds["push.labels"] = HostTensor.Int64([n], Enumerable.Range(0, (int)n).Select(_ => (long)r.Next(3)).ToArray());
            var outs = OrtRunner.Run(queue.Graph, feeds);
            foreach (var pair in queue.State) feeds[pair.Input] = outs[pair.Output];
        }
        Assert.Equal(2, feeds["queue.pointer"].Longs[0]);   // 12 mod 5: wrapped
        Assert.Equal(C, feeds["queue.count"].Longs[0]);
        var c = new Case
        {
            L = 2, Bu = 4, Bl = 2, C = C, D = D, K = 2, NSp = 3, Classes = 3,
            Qe = feeds["queue.embeddings"].Floats, Ql = feeds["queue.labels"].Longs, Count = feeds["queue.count"].Longs[0],
        };
        c.Z = UnitRows(r, c.L * c.Bu, D);
        c.Labels = [c.Ql[0], c.Ql[4]];
        c.U = Uniforms(r, c.N * c.NSp);
        var res = CheckAgainstReference(c);
        Assert.Equal(1f, res.Mask[c.Bu]);
    }

    [Fact]
    public void Positives_are_deterministic_given_uniforms_and_cover_the_matches()
    {
        var c = RandomCase(42, k: 1, count: 16, classes: 2);
        var a = CheckAgainstReference(c);
        var b = RunGraph(c);
        Assert.Equal(a.Positives, b.Positives);

        // u = 0 picks the first matching slot, u just below 1 the last one.
        int i = (int)c.Bu;                                         // first labelled image
        long y = c.Labels[0];
        var matches = Enumerable.Range(0, 16).Where(s => c.Ql[s] == y).ToArray();
        Assert.True(matches.Length >= 2);
        c.U[i * c.NSp] = 0f;
        c.U[i * c.NSp + 1] = 0.99999994f;
        var e = CheckAgainstReference(c);
        Assert.Equal(c.Qe.Skip(matches[0] * (int)c.D).Take((int)c.D), e.Positives.Skip(i * (int)(c.NSp * c.D)).Take((int)c.D));
        Assert.Equal(c.Qe.Skip(matches[^1] * (int)c.D).Take((int)c.D), e.Positives.Skip((i * (int)c.NSp + 1) * (int)c.D).Take((int)c.D));

        // Different uniforms change the draws.
        var c2 = RandomCase(42, k: 1, count: 16, classes: 2);
        c2.U = Uniforms(new Random(7), c2.N * c2.NSp);
        var d = CheckAgainstReference(c2);
        Assert.NotEqual(a.Positives, d.Positives);
    }

    [Fact]
    public void Io_description()
    {
        var built = PseudoLabelGraph.Build(4, 8, 2, 32, 16, 3, 3, 10);
        Assert.Equal(new long[] { 4, 8, 16 }, built.Input("target.unlabelled").Shape);
        Assert.Equal(new long[] { 10, 3 }, built.Input("uniforms").Shape);
        Assert.Equal(new long[] { 8 }, built.Output("pseudo_labels").Shape);
        Assert.Equal(new long[] { 10 }, built.Output("batch_labels").Shape);
        Assert.Equal(new long[] { 10, 3, 16 }, built.Output("positives").Shape);
        Assert.Equal(DType.Float, built.Output("positive_mask").Type);
        Assert.Throws<ArgumentException>(() => PseudoLabelGraph.Build(4, 8, 2, 2, 16, 3, 3, 10));   // k > C
    }
}
