using System.Diagnostics;
using SemPPL.Data.Pipeline;
using SemPPL.GraphGen.Artifacts;

namespace SemPPL.Trainer.Training;

/// <summary>
/// The metrics of each step, and the window they are logged over: pseudo-label accuracy and images per second
/// accumulate from one logged step to the next; every <c>log_every</c> steps (and at the last) a line goes to metrics.jsonl.
/// </summary>
public sealed class MetricsWindow : IDisposable
{
    private readonly StepGraphs _graphs;
    private readonly MetricsLog _log;
    private readonly int _logEvery;
    private readonly long _stepsPerEpoch;
    private readonly List<StepMetrics> _logged = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _images, _pseudoCorrect, _pseudoKnown;

    /// <param name="start">The first step of this invocation: lines logged after it by an earlier run are dropped (resume).</param>
    public MetricsWindow(StepGraphs graphs, string path, long start, int logEvery, long stepsPerEpoch)
    {
        _graphs = graphs;
        _log = new MetricsLog(path, truncateAfterStep: start - 1);
        _logEvery = logEvery;
        _stepsPerEpoch = stepsPerEpoch;
    }

    public IReadOnlyList<StepMetrics> Logged => _logged;
    public StepMetrics? Last { get; private set; }

    /// <summary>The metrics of the step just run; logs them (and starts a new window) when the step is due or the last.</summary>
    /// <param name="jobPseudo">A data-parallel job's pseudo-label score over all ranks (default: this process's batch).</param>
    public StepMetrics Record(Batch batch, StepSchedule schedule, bool isLast, PseudoLabelScore? jobPseudo = null)
    {
        long step = batch.Step;
        var pseudo = jobPseudo ?? PseudoLabelScore.Of(_graphs.PseudoLabels.HostSpan<long>(), batch.UnlabelledTrueLabels);
        _pseudoKnown += pseudo.Known;
        _pseudoCorrect += pseudo.Correct;
        _images += _graphs.Manifest.Shapes.GlobalBatch;

        var m = Last = new StepMetrics
        {
            Step = step,
            Epoch = (double)(step + 1) / _stepsPerEpoch,
            Lr = schedule.LearningRate,
            Ema = schedule.EmaDecay,
            Loss = _graphs.Result(HostRole.Loss),
            LossAugmentation = _graphs.Result(HostRole.LossAugmentation),
            LossSemanticPositive = _graphs.Result(HostRole.LossSemanticPositive),
            LossInvariance = _graphs.Result(HostRole.LossInvariance),
            LossClassifier = _graphs.Result(HostRole.LossClassifier),
            ClassifierAccuracy = _graphs.Result(HostRole.ClassifierAccuracy),
            PseudoLabelAccuracy = _pseudoKnown > 0 ? (double)_pseudoCorrect / _pseudoKnown : null,
            ImagesPerSecond = _images / Math.Max(1e-9, _clock.Elapsed.TotalSeconds),
        };
        if ((step + 1) % _logEvery == 0 || isLast)
        {
            _log.Write(m);
            _logged.Add(m);
            _images = 0; _pseudoCorrect = 0; _pseudoKnown = 0;
            _clock.Restart();
        }
        return m;
    }

    public void Dispose() => _log.Dispose();
}
