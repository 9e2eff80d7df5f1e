using SemPPL.Config;

namespace SemPPL.GraphGen.Models;

/// <summary>Backbones by name (timm style): resnet18..200 and sk_resnet18..152, plus prefixes registered at start-up (e.g. "onnx:").</summary>
public static class BackboneRegistry
{
    /// <summary>SimCLRv2's selective-kernel ratio.</summary>
    public const double SkRatio = 0.0625;

    private static readonly Dictionary<string, (ResNetBlock Block, int[] Layers)> ResNets = new()
    {
        ["resnet18"] = (ResNetBlock.Basic, [2, 2, 2, 2]),
        ["resnet34"] = (ResNetBlock.Basic, [3, 4, 6, 3]),
        ["resnet50"] = (ResNetBlock.Bottleneck, [3, 4, 6, 3]),
        ["resnet101"] = (ResNetBlock.Bottleneck, [3, 4, 23, 3]),
        ["resnet152"] = (ResNetBlock.Bottleneck, [3, 8, 36, 3]),
        ["resnet200"] = (ResNetBlock.Bottleneck, [3, 24, 36, 3]),
    };

    private static readonly string[] SkNames = ["sk_resnet18", "sk_resnet34", "sk_resnet50", "sk_resnet101", "sk_resnet152"];

    private static readonly Dictionary<string, Func<ModelConfig, long, IBackbone>> Prefixes = [];
    private static readonly object Lock = new();

    /// <summary>Built-in prefixes: "onnx:&lt;path&gt;" (<see cref="OnnxBackbone"/>).</summary>
    static BackboneRegistry() => RegisterPrefix(OnnxBackbone.Prefix, OnnxBackbone.FromConfig);

    /// <summary>Every built-in name, in a stable order.</summary>
    public static IReadOnlyList<string> Names { get; } = ResNets.Keys.Concat(SkNames).ToArray();

    /// <summary>Built-in names plus registered prefixes ("onnx:&lt;path&gt;").</summary>
    public static IReadOnlyList<string> KnownNames
    {
        get { lock (Lock) return Names.Concat(Prefixes.Keys.Order(StringComparer.Ordinal).Select(p => p + "<...>")).ToArray(); }
    }

    /// <summary>Registers a backbone family selected by a name prefix (e.g. "onnx:" for imported forwards).</summary>
    public static void RegisterPrefix(string prefix, Func<ModelConfig, long, IBackbone> factory)
    {
        if (string.IsNullOrEmpty(prefix)) throw new ArgumentException("prefix must not be empty");
        lock (Lock) Prefixes[prefix] = factory;
    }

    /// <summary>The backbone named by cfg.Backbone, for images with <paramref name="inputChannels"/> channels.</summary>
    public static IBackbone Create(ModelConfig cfg, long inputChannels)
    {
        string name = cfg.Backbone?.Trim() ?? "";
        string key = name.ToLowerInvariant();
        if (ResNets.TryGetValue(key, out var r))
            return new ResNet(key, r.Block, r.Layers, cfg.Width, cfg.Stem, inputChannels, cfg.ZeroInitResidual);
        if (SkNames.Contains(key))
        {
            var plain = ResNets[key["sk_".Length..]];
            return new ResNet(key, plain.Block, plain.Layers, cfg.Width, cfg.Stem, inputChannels, cfg.ZeroInitResidual, SkRatio);
        }
        Func<ModelConfig, long, IBackbone>? factory = null;
        lock (Lock)
            foreach (var (prefix, f) in Prefixes)
                if (name.StartsWith(prefix, StringComparison.Ordinal)) { factory = f; break; }
        if (factory is not null) return factory(cfg, inputChannels);
        throw new ArgumentException($"unknown backbone '{name}'; known backbones: {string.Join(", ", KnownNames)}");
    }
}
