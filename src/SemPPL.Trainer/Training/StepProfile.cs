namespace SemPPL.Trainer.Training;

/// <summary>Share of each graph in the step, from <see cref="StepTimings"/>.</summary>
public static class StepProfile
{
    public static string Format(StepTimings t)
    {
        double total = t.Totals.Sum(x => x.TotalMilliseconds);
        if (t.Steps == 0 || total <= 0) return "no step timings";
        var parts = t.GraphNames.Select((n, i) =>
            $"{n} {t.Totals[i].TotalMilliseconds / t.Steps:F1} ms ({100 * t.Totals[i].TotalMilliseconds / total:F1}%)");
        return $"step {total / t.Steps:F1} ms: " + string.Join(", ", parts);
    }
}
