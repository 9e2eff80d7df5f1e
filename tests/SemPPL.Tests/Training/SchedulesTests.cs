using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

public class SchedulesTests
{
    private const long K = 1000, W = 100;
    private const double Peak = 0.5;

    [Fact]
    public void Learning_rate_warms_up_linearly_then_decays_by_cosine_to_zero()
    {
        // Warm-up: peak * (k + 1) / W, reaching the peak at the last warm-up step.
        Assert.Equal(Peak / W, Schedules.LearningRate(0, K, W, Peak), 12);
        Assert.Equal(Peak * 50 / W, Schedules.LearningRate(49, K, W, Peak), 12);
        Assert.Equal(Peak, Schedules.LearningRate(W - 1, K, W, Peak), 12);
        // Cosine: peak * (1 + cos(pi (k - W) / (K - W))) / 2.
        Assert.Equal(Peak, Schedules.LearningRate(W, K, W, Peak), 12);
        long mid = W + (K - W) / 2;
        Assert.Equal(Peak / 2, Schedules.LearningRate(mid, K, W, Peak), 12);
        long quarter = W + (K - W) / 4;
        Assert.Equal(Peak * 0.5 * (1 + Math.Cos(Math.PI / 4)), Schedules.LearningRate(quarter, K, W, Peak), 12);
        Assert.Equal(Peak * 0.5 * (1 + Math.Cos(Math.PI * (K - 1 - W) / (K - W))), Schedules.LearningRate(K - 1, K, W, Peak), 12);
        Assert.Equal(0, Schedules.LearningRate(K, K, W, Peak), 12);
        Assert.Equal(0, Schedules.LearningRate(K + 10, K, W, Peak), 12); // clamped past the end

        // Monotone: up during warm-up, down after.
        for (long k = 1; k < K; k++)
        {
            double prev = Schedules.LearningRate(k - 1, K, W, Peak), cur = Schedules.LearningRate(k, K, W, Peak);
            if (k < W) Assert.True(cur > prev, $"lr must rise during warm-up (step {k})");
            else if (k > W) Assert.True(cur < prev, $"lr must fall after warm-up (step {k})");
        }
    }

    [Fact]
    public void Learning_rate_without_warmup_starts_at_the_peak()
    {
        Assert.Equal(Peak, Schedules.LearningRate(0, K, 0, Peak), 12);
        Assert.Equal(Peak / 2, Schedules.LearningRate(K / 2, K, 0, Peak), 12);
    }

    [Theory]
    [InlineData(0.996)]
    [InlineData(0.99)]
    public void Ema_decay_follows_the_byol_cosine(double tauBase)
    {
        // tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2: tau_base at 0, halfway to 1 at K/2, 1 at K.
        Assert.Equal(tauBase, Schedules.EmaDecay(0, K, tauBase), 12);
        Assert.Equal(1 - (1 - tauBase) / 2, Schedules.EmaDecay(K / 2, K, tauBase), 12);
        Assert.Equal(1.0, Schedules.EmaDecay(K, K, tauBase), 12);
        Assert.Equal(1 - (1 - tauBase) * (Math.Cos(Math.PI * 0.25) + 1) / 2, Schedules.EmaDecay(K / 4, K, tauBase), 12);
        for (long k = 1; k <= K; k++)
            Assert.True(Schedules.EmaDecay(k, K, tauBase) >= Schedules.EmaDecay(k - 1, K, tauBase));
        Assert.Equal(1.0, Schedules.EmaDecay(K + 5, K, tauBase), 12); // past the end it stays 1
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.EmaDecay(0, 0, tauBase));
    }
}
