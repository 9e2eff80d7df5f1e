using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SemPPL.Config;
using SemPPL.Trainer.Evaluation;
using SemPPL.Trainer.Training;

namespace SemPPL.Benchmarks.Quality;

/// <summary>
/// The semi-supervised quality table (issue "Evidence"): for each label budget and seed, three arms
/// with the same network, augmentations and number of optimizer steps:
/// (a) supervised-only on the labelled images, (b) contrastive baseline = SemPPL with alpha = 0 and
/// lambda = 0, (c) SemPPL with its defaults. Reports fine-tune, k-NN and linear top-1 (mean and
/// spread over seeds) and plots the pseudo-label accuracy of (c).
///
///   dotnet run -c Release --project tests/SemPPL.Benchmarks -- quality [--config configs/fashion-mnist.yaml]
///       [--budgets 10,100] [--seeds 0,1] [--steps N] [--out runs/quality] [--set key=value ...]
/// </summary>
public static class QualityExperiment
{
    public sealed record ArmResult(string Arm, int Budget, int Seed, double FineTune, double? Knn, double? Linear, double Minutes, string Folder);

    /// <summary>
    /// Combines the quality.json of several harness runs (e.g. one seed each) into one table and plot:
    ///   quality-merge --out runs/quality100-merged runs/quality100 runs/quality100-s1
    /// </summary>
    public static int Merge(string[] args)
    {
        string outRoot = BenchmarkOptions.Get(args, "--out") ?? "runs/quality-merged";
        var folders = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--out")).ToList();
        var results = folders.SelectMany(f => JsonSerializer.Deserialize<List<ArmResult>>(File.ReadAllText(Path.Combine(f, "quality.json")))
                                              ?? throw new InvalidDataException($"{f}/quality.json is empty")).ToList();
        var budgets = results.Select(r => r.Budget).Distinct().Order().ToArray();
        var arms = results.Select(r => r.Arm).Distinct().ToArray();
        Console.WriteLine($"merged {results.Count} runs from {string.Join(", ", folders)}");
        return Write(outRoot, results, budgets, arms);
    }

    public static int Run(string[] args)
    {
        string config = BenchmarkOptions.Get(args, "--config") ?? "configs/fashion-mnist.yaml";
        var budgets = (BenchmarkOptions.Get(args, "--budgets") ?? "10,100").Split(',').Select(int.Parse).ToArray();
        var seeds = (BenchmarkOptions.Get(args, "--seeds") ?? "0,1").Split(',').Select(int.Parse).ToArray();
        string outRoot = BenchmarkOptions.Get(args, "--out") ?? "runs/quality";
        int? steps = BenchmarkOptions.Get(args, "--steps") is { } s ? int.Parse(s) : null;
        var sets = args.Select((a, i) => (a, i)).Where(t => t.a == "--set" && t.i + 1 < args.Length).Select(t => args[t.i + 1]).ToList();
        var arms = (BenchmarkOptions.Get(args, "--arms") ?? "supervised,contrastive,semppl").Split(',');

        Console.WriteLine($"quality table: {config}, budgets {string.Join(",", budgets)} labels/class, seeds {string.Join(",", seeds)}, arms {string.Join(",", arms)}");
        Console.WriteLine($"machine: {Machine.Describe()}");
        Console.WriteLine($"command: dotnet run -c Release --project tests/SemPPL.Benchmarks -- quality {string.Join(' ', args)}");
        var results = new List<ArmResult>();
        foreach (int budget in budgets)
            foreach (int seed in seeds)
                foreach (var arm in arms)
                {
                    var overrides = new List<string>(sets) { $"seed={seed}", $"data.labels_per_class={budget}", "training.eval_at_end=false" };
                    if (steps is { } n) overrides.Add($"training.steps={n}");
                    if (arm == "contrastive") { overrides.Add("objective.alpha=0"); overrides.Add("objective.lambda=0"); }
                    var cfg = ConfigOverrides.Load(config, overrides);
                    ConfigValidator.Validate(cfg, config);
                    var folder = new RunFolder(Path.Combine(outRoot, $"{arm}-{budget}pc-seed{seed}"));
                    if (Directory.Exists(folder.Root)) Directory.Delete(folder.Root, true);
                    var sw = Stopwatch.StartNew();
                    results.Add(RunArm(arm, cfg, folder, budget, seed, sw));
                    var r = results[^1];
                    Console.WriteLine($"  {arm,-12} {budget,4}/class seed {seed}: fine-tune {r.FineTune:P2}  k-NN {Fmt(r.Knn)}  linear {Fmt(r.Linear)}  ({r.Minutes:F1} min)");
                }

        return Write(outRoot, results, budgets, arms);
    }

    /// <summary>Prints the table and writes quality.md, quality.json and the pseudo-label accuracy plot.</summary>
    private static int Write(string outRoot, List<ArmResult> results, int[] budgets, string[] arms)
    {
        var table = Table(results, budgets, arms);
        Console.WriteLine(table);
        Directory.CreateDirectory(outRoot);
        File.WriteAllText(Path.Combine(outRoot, "quality.md"), table);
        File.WriteAllText(Path.Combine(outRoot, "quality.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        PlotPseudoLabelAccuracy(results.Where(r => r.Arm == "semppl").ToList(), Path.Combine(outRoot, "pseudo-label-accuracy.png"));
        Console.WriteLine($"wrote {outRoot}/quality.md, quality.json, pseudo-label-accuracy.png");
        return 0;
    }

    private static ArmResult RunArm(string arm, SemPPLConfig cfg, RunFolder folder, int budget, int seed, Stopwatch sw)
    {
        Action<string> quiet = _ => { };
        var setup = RunSetup.Prepare(cfg, folder, resume: false, quiet);
        if (arm == "supervised")
        {
            var b = SupervisedBaseline.Run(folder, null, SupervisedBaseline.DefaultSteps(cfg, (int)setup.Resolved.TotalSteps, setup.Split.Count), quiet);
            return new ArmResult(arm, budget, seed, b.Top1, null, null, sw.Elapsed.TotalMinutes, folder.Root);
        }
        SemPPLTrainer.Train(setup, new TrainingOptions { Log = quiet });
        TrainingPlots.Write(folder);
        var e = EvaluationRunner.Run(folder, null, quiet);
        return new ArmResult(arm, budget, seed, e.FineTuneTop1, e.KnnTop1, e.LinearTop1, sw.Elapsed.TotalMinutes, folder.Root);
    }

    private static string Table(List<ArmResult> results, int[] budgets, string[] arms)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| labels/class | arm | fine-tune top-1 | k-NN top-1 | linear top-1 | seeds | minutes/run |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (int b in budgets)
            foreach (var arm in arms)
            {
                var rs = results.Where(r => r.Budget == b && r.Arm == arm).ToList();
                if (rs.Count == 0) continue;
                sb.AppendLine($"| {b} | {arm} | {MeanSpread(rs.Select(r => r.FineTune))} | {MeanSpread(rs.Where(r => r.Knn is not null).Select(r => r.Knn!.Value))} | " +
                              $"{MeanSpread(rs.Where(r => r.Linear is not null).Select(r => r.Linear!.Value))} | {rs.Count} | {rs.Average(r => r.Minutes):F1} |");
            }
        sb.AppendLine();
        sb.AppendLine("mean ± half the range over seeds (with two seeds: the distance of each seed from the mean).");
        return sb.ToString();
    }

    private static string MeanSpread(IEnumerable<double> values)
    {
        var v = values.ToList();
        if (v.Count == 0) return "-";
        return $"{100 * v.Average():F2} ± {100 * (v.Max() - v.Min()) / 2:F2}";
    }

    private static void PlotPseudoLabelAccuracy(List<ArmResult> runs, string path)
    {
        if (runs.Count == 0) return;
        var plot = new ScottPlot.Plot();
        foreach (var r in runs)
        {
            var rows = MetricsLog.ReadAll(new RunFolder(r.Folder).Metrics).Where(m => m.PseudoLabelAccuracy is not null).ToList();
            if (rows.Count == 0) continue;
            var line = plot.Add.Scatter(rows.Select(m => (double)m.Step).ToArray(), rows.Select(m => m.PseudoLabelAccuracy!.Value).ToArray());
            line.LegendText = $"{r.Budget} labels/class, seed {r.Seed}";
            line.MarkerSize = 0;
        }
        plot.Title("SemPPL pseudo-label accuracy (unlabelled images of each batch)");
        plot.XLabel("step");
        plot.YLabel("accuracy");
        plot.Axes.SetLimitsY(0, 1);
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
    }

    private static string Fmt(double? v) => v is { } x ? x.ToString("P2") : "-";
}
