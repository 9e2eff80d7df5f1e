namespace SemPPL.Trainer.Training;

/// <summary>A step's pseudo-labels against the true labels of its unlabelled images, where those are known.</summary>
public readonly record struct PseudoLabelScore(long Correct, long Known)
{
    /// <param name="pseudo">Pseudo-labels of the unlabelled images.</param>
    /// <param name="truth">Their true labels, -1 where unknown.</param>
    public static PseudoLabelScore Of(ReadOnlySpan<long> pseudo, ReadOnlySpan<long> truth)
    {
        long correct = 0, known = 0;
        for (int i = 0; i < pseudo.Length; i++)
        {
            if (truth[i] < 0) continue;
            known++;
            if (pseudo[i] == truth[i]) correct++;
        }
        return new PseudoLabelScore(correct, known);
    }
}
