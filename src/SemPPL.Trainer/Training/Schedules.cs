namespace SemPPL.Trainer.Training;

/// <summary>Host-computed schedules (scalars fed to the optimizer and EMA graphs each step).</summary>
public static class Schedules
{
    /// <summary>Linear warm-up from 0 to <paramref name="peak"/> over <paramref name="warmupSteps"/>, then cosine decay to 0 at <paramref name="totalSteps"/>.</summary>
    public static double LearningRate(long step, long totalSteps, long warmupSteps, double peak)
    {
        if (step < warmupSteps) return peak * (step + 1) / warmupSteps;
        long decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        return peak * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>BYOL's target decay (the EMA graph's tau, docs/method.md step 8): tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2,
    /// tau_base at k = 0, 1 at k = K (and past it).</summary>
    public static double EmaDecay(long step, long totalSteps, double tauBase)
    {
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"total steps {totalSteps}: must be positive");
        double k = Math.Clamp(step, 0, totalSteps);
        return 1 - (1 - tauBase) * (Math.Cos(Math.PI * k / totalSteps) + 1) / 2;
    }
}
