using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SemPPL.GraphGen.Autodiff.Rules;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Benchmarks.Autodiff;

/// <summary>
/// The Conv weight gradient of one layer in each form graphgen can emit, next to the layer's forward Conv and input
/// gradient, each opened as the trainer opens a CPU graph (NCHWc lowering with the probed block size). Rounds
/// interleave the forms so that background load hits them alike; prints min and median ms per form.
/// Options: --shape N,C,H,W (80,64,32,32) --out M (C) --stride S (1) --threads T (2) --rounds R (15), --profile (kernel time
/// per op, warm-up excluded). Experiment modes that replace the forms: --gemm (the product alone as MatMul / Gemm in
/// each operand order), --gemm --pointwise or --pointwise2 (the product as a 1x1 Conv, columns or dY as its input),
/// --layout (reorders, BatchNorm and per-channel reductions on NCHW against the NCHWc layout), --relu-backward (ReLU's
/// backward mask in the forms ORT's kernels offer; Sign's input stands for the forward's ReLU output). --winograd-compare
/// adds each form lowered without the Winograd rewrite (which takes the 3x3 layers of small images with many channels).
/// Sessions run without spinning, as the trainer's do (spinning pools of the other forms' sessions took the cores).
/// </summary>
public static class WeightGradientBenchmark
{
    public static int Run(string[] args)
    {
        long[] x = BenchmarkOptions.Get(args, "--shape", "80,64,32,32").Split(',').Select(long.Parse).ToArray();
        long m = BenchmarkOptions.Get(args, "--out", (int)x[1]);
        long s = BenchmarkOptions.Get(args, "--stride", 1);
        int threads = BenchmarkOptions.Get(args, "--threads", 2), rounds = BenchmarkOptions.Get(args, "--rounds", 15);
        long[] w = [m, x[1], 3, 3];
        long ho = (x[2] + 2 - 3) / s + 1, wo = (x[3] + 2 - 3) / s + 1;
        long[] y = [x[0], m, ho, wo];
        Console.WriteLine($"command: SemPPL.Benchmarks wgrad {string.Join(" ", args)}".TrimEnd());
        Console.WriteLine($"machine: {Machine.Describe()}; ORT {OrtEnv.Instance().GetVersionString()}, {threads} intra-op threads, NCHWc block {NchwcSupport.BlockSize}");
        Console.WriteLine($"layer: x [{string.Join(",", x)}], w [{string.Join(",", w)}], stride {s}, pad 1; {rounds} interleaved rounds after one warm-up");
        var geo = new ConvGeometry([s, s], [1, 1, 1, 1], [1, 1], 1, x, w, y);
        var forms = new List<(string Name, Func<GraphBuilder, Value, Value, Value, Value> Build)>
        {
            ("forward Conv", (g, xi, wi, dyi) => g.Conv(xi, wi, null, [s, s], [1, 1, 1, 1])),
            ("input gradient", (g, xi, wi, dyi) => ConvBackward.InputGradient(g, dyi, wi, geo)),
        };
        foreach (var method in new[] { ConvWeightGradMethod.GatherIm2Col, ConvWeightGradMethod.GatherIm2ColWide, ConvWeightGradMethod.Im2Col, ConvWeightGradMethod.DilatedConv })
            forms.Add(($"dW {method}", (g, xi, wi, dyi) => ConvBackward.WeightGradient(g, xi, dyi, geo, method)));
        if (args.Contains("--gemm"))
        {
            long nl = y[0] * ho * wo, c = x[1], k = 9;
            forms.Clear();
            forms.Add(("MatMul [M,NL]x[K,NL,C]", (g, xi, wi, dyi) => g.MatMul(g.Reshape(dyi, m, nl), g.Reshape(xi, k, nl, c))));
            forms.Add(("MatMul [M,NL]x[NL,KC]", (g, xi, wi, dyi) => g.MatMul(g.Reshape(dyi, m, nl), g.Reshape(xi, nl, k * c))));
            forms.Add(("MatMul [KC,NL]x[NL,M]", (g, xi, wi, dyi) => g.MatMul(g.Reshape(xi, k * c, nl), g.Reshape(dyi, nl, m))));
            forms.Add(("Gemm tA [NL,M]'x[NL,KC]", (g, xi, wi, dyi) => g.Gemm(g.Reshape(dyi, nl, m), g.Reshape(xi, nl, k * c), transA: true)));
            forms.Add(("Gemm tB [M,NL]x[KC,NL]'", (g, xi, wi, dyi) => g.Gemm(g.Reshape(dyi, m, nl), g.Reshape(xi, k * c, nl), transB: true)));
            x = [k, nl, c];
            if (args.Contains("--pointwise2"))
            {
                forms.Clear();
                long hs = BenchmarkOptions.Get(args, "--hs", 1);
                forms.Add(("NchwcConv 1x1 In=dY W=cols", (g, xi, wi, dyi) => g.Conv(xi, wi)));
                x = [1, nl, hs, m / hs]; w = [k * c, nl, 1, 1];
            }
            else if (args.Contains("--pointwise"))
            {
                forms.Clear();
                forms.Add(("NchwcConv 1x1 [1,NL,K,C]", (g, xi, wi, dyi) => g.Conv(xi, wi)));
                x = [1, nl, k, c]; w = [m, nl, 1, 1];
            }
        }
        if (args.Contains("--layout"))
        {
            long n = x[0], c = x[1], hh = x[2], ww = x[3], bb = NchwcSupport.BlockSize;
            forms.Clear();
            Value Vec(GraphBuilder g, float v) => g.Constant(HostTensor.Float([c], Enumerable.Repeat(v, (int)c).ToArray()), "v");
            Value Blocked(GraphBuilder g, Value xi) => g.AddNode("ReorderInput", [xi], [(DType.Float, xi.Shape)], domain: "com.microsoft.nchwc")[0];
            forms.Add(("reorder in", (g, xi, wi, dyi) => Blocked(g, xi)));
            forms.Add(("reorder in+out", (g, xi, wi, dyi) => g.AddNode("ReorderOutput", [Blocked(g, xi)], [(DType.Float, xi.Shape)], new() { ["channels"] = Attr.Int(c) }, domain: "com.microsoft.nchwc")[0]));
            forms.Add(("BN NCHW", (g, xi, wi, dyi) => g.BatchNormInference(xi, Vec(g, 1.5f), Vec(g, 0.1f), Vec(g, 0.2f), Vec(g, 2f))));
            forms.Add(("reorder+BN depthwise", (g, xi, wi, dyi) =>
            {
                var conv = g.AddNode("Conv", [Blocked(g, xi), g.Reshape(Vec(g, 1.5f), c, 1, 1, 1), Vec(g, 0.1f)], [(DType.Float, xi.Shape)],
                    new() { ["kernel_shape"] = Attr.IntList(1, 1), ["group"] = Attr.Int(c), ["strides"] = Attr.IntList(1, 1), ["pads"] = Attr.IntList(0, 0, 0, 0), ["dilations"] = Attr.IntList(1, 1) }, domain: "com.microsoft.nchwc")[0];
                return conv;
            }));
            forms.Add(("reorder+BN Mul+Add 5D", (g, xi, wi, dyi) =>
                g.Add(g.Mul(g.Reshape(Blocked(g, xi), n, c / bb, hh, ww, bb), g.Reshape(Vec(g, 1.5f), 1, c / bb, 1, 1, bb)), g.Reshape(Vec(g, 0.1f), 1, c / bb, 1, 1, bb))));
            forms.Add(("ReduceSum NCHW 0,2,3", (g, xi, wi, dyi) => g.ReduceSum(xi, [0, 2, 3], true)));
            forms.Add(("reorder+ReduceSum 4D 0,2", (g, xi, wi, dyi) => g.ReduceSum(g.Reshape(Blocked(g, xi), n, c / bb, hh * ww, bb), [0, 2], true)));
            forms.Add(("reorder+ReduceSum 2-step", (g, xi, wi, dyi) => g.ReduceSum(g.ReduceSum(g.Reshape(Blocked(g, xi), n, c / bb, hh * ww, bb), [2], true), [0], true)));
            forms.Add(("Relu NCHW", (g, xi, wi, dyi) => g.Relu(xi)));
        }
        if (args.Contains("--relu-backward"))
        {   // ReLU's backward dX = dY where the forward input x > 0, else 0, in the forms ORT's CPU kernels offer
            forms.Clear();
            NchwcSupport.Forms = NchwcSupport.Forms with { ZeroMasksAsMul = false }; // else the Where form is lowered to the Mul form
            Value Zero(GraphBuilder g) => g.Constant(HostTensor.Float([], [0f]), "zero");
            forms.Add(("Where(x > 0, dy, 0)", (g, xi, wi, dyi) => g.Where(g.Greater(xi, Zero(g)), dyi, Zero(g))));
            forms.Add(("Mul(dy, Cast(x > 0))", (g, xi, wi, dyi) => g.Mul(dyi, g.Cast(g.Greater(xi, Zero(g)), DType.Float))));
            forms.Add(("Mul(dy, Sign(relu(x)))", (g, xi, wi, dyi) => g.Mul(dyi, g.Sign(xi))));
            forms.Add(("Mul alone", (g, xi, wi, dyi) => g.Mul(dyi, xi)));
            y = x;
        }
        var rng = new Random(1);
        float[] Fill(long[] shape) { var a = new float[shape.Aggregate(1L, (p, d) => p * d)]; for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f; return a; }
        using var xv = OrtValue.CreateTensorValueFromMemory(Fill(x), x);
        using var wv = OrtValue.CreateTensorValueFromMemory(Fill(w), w);
        using var dyv = OrtValue.CreateTensorValueFromMemory(Fill(y), y);
        var sessions = new List<(string Name, InferenceSession Session, List<double> Times)>();
        using var factory = new SessionFactory(ExecutionDevice.Parse("cpu"), new SessionSettings { IntraOpThreads = threads, AllowSpinning = false });
        foreach (var (name, build) in forms)
        {
            var g = new GraphBuilder("wgrad");
            var r = build(g, g.Input("x", DType.Float, x), g.Input("w", DType.Float, w), g.Input("dy", DType.Float, y));
            g.Output(g.Identity(r), "out");
            using var o = factory.CreateOptions();
            if (args.Contains("--profile")) { o.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "wgrad-" + sessions.Count); o.EnableProfiling = true; }
            sessions.Add((name, new InferenceSession(NchwcSupport.Lower(g.ToBytes()), o), []));
            if (args.Contains("--winograd-compare"))
            {   // the same graph lowered without the Winograd rewrite (it takes 3x3 layers of small images with many channels)
                var forms0 = NchwcSupport.Forms;
                NchwcSupport.Forms = forms0 with { WinogradSmallImages = false };
                using var o3 = factory.CreateOptions();
                sessions.Add((name + " (no Winograd)", new InferenceSession(NchwcSupport.Lower(g.ToBytes()), o3), []));
                NchwcSupport.Forms = forms0;
            }
            if (name == "dW GatherIm2Col" && NchwcSupport.BlockSize > 1)
            {   // the same graph with its product left to MLAS's SGEMM (the lowering before the pointwise rewrite)
                var proto = Onnx.ModelProto.Parser.ParseFrom(g.ToBytes());
                SemPPL.GraphGen.Lowering.NchwcConvLowering.Lower(proto, NchwcSupport.BlockSize, new(WeightGradientProducts: false));
                using var o2 = factory.CreateOptions();
                if (args.Contains("--profile")) { o2.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "wgrad-mm"); o2.EnableProfiling = true; }
                sessions.Add((name + " (MatMul)", new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(proto), o2), []));
            }
        }
        using var run = new RunOptions();
        for (int k = 0; k <= rounds; k++)
            foreach (var (name, session, times) in sessions)
            {
                var names = session.InputNames.ToArray();
                var values = names.Select(n => n switch { "x" => xv, "w" => wv, _ => dyv }).ToArray();
                long t0 = Stopwatch.GetTimestamp();
                using (session.Run(run, names, values, session.OutputNames)) { }
                if (k > 0) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        foreach (var (name, session, times) in sessions)
        {
            var sorted = times.Order().ToList();
            Console.WriteLine($"  {name,-34} min {sorted[0],8:F2} ms   median {sorted[sorted.Count / 2],8:F2} ms");
            if (args.Contains("--profile"))
            {
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(session.EndProfiling()));
                var events = doc.RootElement.EnumerateArray().Where(e => e.TryGetProperty("cat", out _)).ToList();
                double counted = events.Where(e => e.GetProperty("cat").GetString() == "Session" && e.GetProperty("name").GetString() == "model_run")
                                       .Select(e => e.GetProperty("ts").GetDouble()).Order().ElementAt(1); // the warm-up run is not counted
                foreach (var grp in events.Where(e => e.GetProperty("cat").GetString() == "Node" && e.GetProperty("ts").GetDouble() >= counted
                             && e.GetProperty("name").GetString()!.EndsWith("_kernel_time")).GroupBy(e => e.GetProperty("args").GetProperty("op_name").GetString()))
                    Console.WriteLine($"      {grp.Key,-20} {grp.Sum(e => e.GetProperty("dur").GetDouble()) / 1000 / rounds,8:F2} ms");
            }
            session.Dispose();
        }
        return 0;
    }
}
