using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SemPPL.Config;

/// <summary>
/// A stable SHA-256 (lower-case hex) of the keys that change the generated ONNX graphs, so that an artifact
/// set can be reused exactly when its graphs would be the same.
/// </summary>
/// <remarks>
/// The canonical text is one "path=value" line per key, sorted by path, numbers in invariant round-trip
/// form, preceded by a format version line. Keys in the hash:
/// <list type="bullet">
/// <item>model.* (all keys; for an onnx: backbone the SHA-256 of the file's bytes replaces its path when the file exists)</item>
/// <item>objective.* (all keys; negatives as the resolved count; queue_capacity resolved when the labelled count is given)</item>
/// <item>augment.large_views, small_views, large_size, small_size, channels</item>
/// <item>training.batch_unlabelled, the effective batch_labelled, and training.bn_groups when it is not 0</item>
/// <item>optimizer.name, momentum, nesterov, weight_decay, trust_coefficient, betas, epsilon</item>
/// </list>
/// Not in the hash: name, seed, device, data.*, the other augment keys (CPU-side augmentation), optimizer.base_lr
/// and the schedule (the learning rate is a graph input), training.epochs/steps/warmup/ema_base (the EMA
/// rate is a graph input), logging and checkpoint keys, eval.* (the eval graph has a dynamic batch).
/// </remarks>
public static class ConfigHash
{
    /// <summary>Version of the canonical form; bump when the set of keys or their encoding changes.</summary>
    public const string FormatVersion = "semppl-config-hash/1";

    /// <summary>The hash. Give <paramref name="labelledImages"/> to resolve an "auto" queue capacity to its size.</summary>
    public static string Compute(SemPPLConfig config, int? labelledImages = null)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(config, labelledImages)));
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>The hash of a resolved config (queue capacity resolved).</summary>
    public static string Compute(ResolvedConfig resolved) => Compute(resolved.Config, resolved.LabelledImages);

    /// <summary>The exact text that is hashed.</summary>
    public static string CanonicalText(SemPPLConfig config, int? labelledImages = null)
    {
        var kv = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in ConfigSchema.AllKeys())
        {
            if (key.Kind == ConfigValueKind.Section) continue;
            if (!InHash(key.Path)) continue;
            kv[key.Path] = Format(ConfigSchema.ValueAt(config, key.Path));
        }
        var b = config.Model.Backbone ?? "";
        if (b.StartsWith(KnownNames.OnnxBackbonePrefix, StringComparison.Ordinal))
        {
            var file = b[KnownNames.OnnxBackbonePrefix.Length..];
            if (File.Exists(file))
                kv["model.backbone"] = "onnx-sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
        }
        kv["training.batch_labelled"] = Format(config.Training.EffectiveBatchLabelled());
        // Only when set, so the hashes of configs written before the key existed stay the same.
        if (config.Training.BnGroups == 0) kv.Remove("training.bn_groups");
        if (config.Objective.Negatives == "all" || int.TryParse(config.Objective.Negatives, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            kv["objective.negatives"] = Format(config.NegativesCount());
        if (int.TryParse(config.Objective.QueueCapacity, NumberStyles.None, CultureInfo.InvariantCulture, out var q))
            kv["objective.queue_capacity"] = Format(q);
        else if (labelledImages is { } n && config.Objective.QueueCapacity == "auto")
            kv["objective.queue_capacity"] = Format(config.QueueCapacity(n));
        var sb = new StringBuilder(FormatVersion).Append('\n');
        foreach (var (k, v) in kv) sb.Append(k).Append('=').Append(v).Append('\n');
        return sb.ToString();
    }

    /// <summary>Leaf key paths that enter the hash.</summary>
    public static IReadOnlyList<string> HashedKeys() => ConfigSchema.LeafPaths().Where(InHash).ToList();

    private static readonly HashSet<string> Listed =
    [
        "augment.large_views", "augment.small_views", "augment.large_size", "augment.small_size", "augment.channels",
        "training.batch_unlabelled", "training.batch_labelled", "training.bn_groups",
        "optimizer.name", "optimizer.momentum", "optimizer.nesterov", "optimizer.weight_decay",
        "optimizer.trust_coefficient", "optimizer.betas", "optimizer.epsilon",
    ];

    private static bool InHash(string path) =>
        path.StartsWith("model.", StringComparison.Ordinal) || path.StartsWith("objective.", StringComparison.Ordinal) || Listed.Contains(path);

    private static string Format(object? v) => v switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        int or long => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"",
        double[] a => "[" + string.Join(",", a.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "]",
        _ => throw new NotSupportedException(v.GetType().ToString()),
    };
}
