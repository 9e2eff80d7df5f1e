namespace SemPPL.GraphGen.Models;

/// <summary>Trainable-parameter counts per head, from the first segment of the spec names.</summary>
public sealed record ParameterCounts(long Encoder, long Projector, long Predictor, long Classifier, long Other)
{
    public long Total => Encoder + Projector + Predictor + Classifier + Other;

    public static ParameterCounts Of(IEnumerable<ParameterSpec> parameters)
    {
        long e = 0, pr = 0, pd = 0, c = 0, o = 0;
        foreach (var p in parameters)
        {
            string head = p.Name.Split('.', 2)[0];
            long n = p.ElementCount;
            switch (head)
            {
                case SemPPLNetwork.Encoder: e += n; break;
                case SemPPLNetwork.Projector: pr += n; break;
                case SemPPLNetwork.Predictor: pd += n; break;
                case SemPPLNetwork.Classifier: c += n; break;
                default: o += n; break;
            }
        }
        return new ParameterCounts(e, pr, pd, c, o);
    }

    public override string ToString() =>
        $"encoder {Encoder:N0}, projector {Projector:N0}, predictor {Predictor:N0}, classifier {Classifier:N0}" +
        (Other > 0 ? $", other {Other:N0}" : "") + $", total {Total:N0}";
}
