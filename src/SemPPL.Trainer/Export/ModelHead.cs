namespace SemPPL.Trainer.Export;

/// <summary>Which trained network `semppl export --from` writes.</summary>
public enum ModelHead
{
    /// <summary>All weights fine-tuned on the labelled subset by `semppl eval` (the paper's protocol).</summary>
    FineTune,
    /// <summary>The checkpoint's encoder with the linear probe trained by `semppl eval`.</summary>
    Linear,
    /// <summary>The checkpoint's encoder with the online classifier trained alongside SemPPL.</summary>
    Online,
    /// <summary>The checkpoint's encoder alone: embeddings, no classifier.</summary>
    Encoder,
    /// <summary>The supervised-only arm trained by `semppl baseline`.</summary>
    Supervised,
}

public static class ModelHeads
{
    public static readonly string[] Names = ["finetune", "linear", "online", "encoder", "supervised"];

    public static string Name(this ModelHead head) => Names[(int)head];

    public static ModelHead Parse(string text)
    {
        int i = Array.IndexOf(Names, text.Trim().ToLowerInvariant());
        if (i < 0) throw new ArgumentException($"--from '{text}' is not one of {string.Join(", ", Names)}");
        return (ModelHead)i;
    }

    /// <summary>What a user reads: "the fine-tuned model".</summary>
    public static string Describe(this ModelHead head) => head switch
    {
        ModelHead.FineTune => "the fine-tuned model",
        ModelHead.Linear => "the encoder with the linear probe",
        ModelHead.Online => "the encoder with the online classifier",
        ModelHead.Encoder => "the encoder (embeddings only)",
        ModelHead.Supervised => "the supervised-only baseline",
        _ => head.ToString(),
    };
}
