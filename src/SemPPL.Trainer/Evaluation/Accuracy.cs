namespace SemPPL.Trainer.Evaluation;

/// <summary>Top-1 / top-5 accuracy from per-example class rankings or logits (evaluation outputs, not training tensors).</summary>
public static class Accuracy
{
    /// <summary>From ranked classes [n, r] (best first).</summary>
    public static (double Top1, double Top5) FromRanked(ReadOnlySpan<long> ranked, int perRow, IReadOnlyList<int> labels)
    {
        int hit1 = 0, hit5 = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            var row = ranked.Slice(i * perRow, perRow);
            if (row[0] == labels[i]) hit1++;
            for (int j = 0; j < Math.Min(5, perRow); j++) if (row[j] == labels[i]) { hit5++; break; }
        }
        return ((double)hit1 / labels.Count, (double)hit5 / labels.Count);
    }

    /// <summary>From logits [n, K].</summary>
    public static (double Top1, double Top5) FromLogits(ReadOnlySpan<float> logits, int classes, IReadOnlyList<int> labels)
    {
        int hit1 = 0, hit5 = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            var row = logits.Slice(i * classes, classes);
            float own = row[labels[i]];
            int better = 0;
            for (int c = 0; c < classes; c++) if (row[c] > own || (row[c] == own && c < labels[i])) better++;
            if (better == 0) hit1++;
            if (better < 5) hit5++;
        }
        return ((double)hit1 / labels.Count, (double)hit5 / labels.Count);
    }
}
