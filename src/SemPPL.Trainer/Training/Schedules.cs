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

    /// <summary>BYOL's target decay: tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2.</summary>
    public static double EmaDecay(long step, long totalSteps, double tauBase) =>
        1 - (1 - tauBase) * (Math.Cos(Math.PI * step / Math.Max(1, totalSteps)) + 1) / 2;
}
