using System.Diagnostics;

namespace SemPPL.Trainer.Training;

/// <summary>The run's wall clock: steps run, the progress the CLI draws (elapsed, time left) and the overall image rate.</summary>
public sealed class RunClock(long totalSteps, long end)
{
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();

    public long StepsRun { get; private set; }

    /// <summary>Counts step <paramref name="step"/> as run and says where the run stands.</summary>
    public TrainingProgress StepDone(long step, StepMetrics latest)
    {
        StepsRun++;
        double perStep = _elapsed.Elapsed.TotalSeconds / StepsRun;
        return new TrainingProgress(step + 1, totalSteps, latest.Epoch, latest, _elapsed.Elapsed, TimeSpan.FromSeconds(perStep * (end - step - 1)));
    }

    public double ImagesPerSecond(int batch) => StepsRun * batch / Math.Max(1e-9, _elapsed.Elapsed.TotalSeconds);
}
