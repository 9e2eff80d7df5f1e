using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

public class StepRandomnessTests
{
    private const int L = 2, B = 20, NNeg = 10, Nsp = 3;

    [Fact]
    public void Negatives_are_other_images_of_the_batch_without_repeats()
    {
        var r = new StepRandomness(seed: 7, L, B, NNeg, Nsp);
        for (long step = 0; step < 25; step++)
        {
            r.Fill(step);
            for (int l = 0; l < L; l++)
                for (int i = 0; i < B; i++)
                {
                    var row = r.Negatives.AsSpan((l * B + i) * NNeg, NNeg).ToArray();
                    Assert.DoesNotContain((long)i, row);
                    Assert.All(row, n => Assert.InRange(n, 0, B - 1));
                    Assert.Equal(NNeg, row.Distinct().Count());
                }
            Assert.All(r.Uniforms, u => Assert.True(u >= 0f && u < 1f, $"uniform {u} outside [0, 1)"));
        }
    }

    [Fact]
    public void A_rank_draws_exactly_its_rows_of_the_whole_batch()
    {
        var whole = new StepRandomness(seed: 3, L, B, NNeg, Nsp);
        int[] rows = [8, 9, 10, 11, 12, 13, 14, 15, 18, 19];   // rank 1 of 2 with a job batch of 16 + 4
        var rank = new StepRandomness(seed: 3, L, B, NNeg, Nsp, rows);
        whole.Fill(11);
        rank.Fill(11);
        for (int l = 0; l < L; l++)
            for (int r = 0; r < rows.Length; r++)
                Assert.Equal(whole.Negatives.AsSpan((l * B + rows[r]) * NNeg, NNeg).ToArray(), rank.Negatives.AsSpan((l * rows.Length + r) * NNeg, NNeg).ToArray());
        for (int r = 0; r < rows.Length; r++)
            Assert.Equal(whole.Uniforms.AsSpan(rows[r] * Nsp, Nsp).ToArray(), rank.Uniforms.AsSpan(r * Nsp, Nsp).ToArray());
    }

    [Fact]
    public void All_negatives_is_every_other_image()
    {
        var r = new StepRandomness(seed: 1, L, B, B - 1, Nsp);
        r.Fill(3);
        for (int i = 0; i < B; i++)
        {
            var row = r.Negatives.AsSpan(i * (B - 1), B - 1).ToArray();
            Assert.Equal(Enumerable.Range(0, B).Where(j => j != i).Select(j => (long)j), row.Order());
        }
    }

    [Fact]
    public void Draws_are_a_function_of_seed_and_step()
    {
        var a = new StepRandomness(seed: 5, L, B, NNeg, Nsp);
        var b = new StepRandomness(seed: 5, L, B, NNeg, Nsp);
        a.Fill(12);
        var neg12 = a.Negatives.ToArray(); var uni12 = a.Uniforms.ToArray();
        b.Fill(3); b.Fill(12); // history does not matter
        Assert.Equal(neg12, b.Negatives);
        Assert.Equal(uni12, b.Uniforms);

        a.Fill(13);
        Assert.NotEqual(neg12, a.Negatives);
        Assert.NotEqual(uni12, a.Uniforms);

        var c = new StepRandomness(seed: 6, L, B, NNeg, Nsp);
        c.Fill(12);
        Assert.NotEqual(neg12, c.Negatives);
        Assert.NotEqual(uni12, c.Uniforms);

        // Rows differ between views and images too (not one permutation reused).
        a.Fill(12);
        var view0 = a.Negatives.AsSpan(0, B * NNeg).ToArray();
        var view1 = a.Negatives.AsSpan(B * NNeg, B * NNeg).ToArray();
        Assert.NotEqual(view0, view1);
    }

    [Fact]
    public void Too_many_negatives_for_the_batch_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new StepRandomness(0, L, B, B, Nsp));
        Assert.Contains("objective.negatives", e.Message);
    }
}
