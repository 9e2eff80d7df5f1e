namespace SemPPL.Trainer.Training;

/// <summary>PNG plots of a run's metrics.jsonl: loss parts, and classifier / pseudo-label accuracy.</summary>
public static class TrainingPlots
{
    public static void Write(RunFolder folder)
    {
        if (!File.Exists(folder.Metrics)) return;
        var rows = MetricsLog.ReadAll(folder.Metrics);
        if (rows.Count == 0) return;
        double[] steps = rows.Select(r => (double)r.Step).ToArray();

        var loss = new ScottPlot.Plot();
        void Line(ScottPlot.Plot p, Func<StepMetrics, double> f, string label)
        {
            var s = p.Add.Scatter(steps, rows.Select(f).ToArray());
            s.LegendText = label;
            s.MarkerSize = 0;
        }
        Line(loss, r => r.Loss, "total");
        Line(loss, r => r.LossAugmentation, "augmentation");
        Line(loss, r => r.LossSemanticPositive, "semantic positive");
        Line(loss, r => r.LossInvariance, "invariance");
        Line(loss, r => r.LossClassifier, "classifier CE");
        loss.Title("SemPPL loss parts");
        loss.XLabel("step");
        loss.ShowLegend();
        loss.SavePng(folder.LossPlot, 900, 500);

        var acc = new ScottPlot.Plot();
        Line(acc, r => r.ClassifierAccuracy, "online classifier (labelled batch)");
        if (rows.Any(r => r.PseudoLabelAccuracy is not null))
            Line(acc, r => r.PseudoLabelAccuracy ?? double.NaN, "pseudo-label accuracy");
        acc.Title("Accuracy during training");
        acc.XLabel("step");
        acc.Axes.SetLimitsY(0, 1);
        acc.ShowLegend();
        acc.SavePng(folder.AccuracyPlot, 900, 500);
    }
}
