using System.Globalization;
using SemPPL.Config;

namespace SemPPL.GraphGen.Models;

/// <summary>Backbones by name (timm style): resnet18..200 and sk_resnet18..152, plus prefixes registered at start-up (e.g. "onnx:").</summary>
public static class BackboneRegistry
{
    /// <summary>SimCLRv2's selective-kernel ratio.</summary>
    public const double SkRatio = 0.0625;

    /// <summary>The architecture of each depth; which names exist is <see cref="SemPPL.Config.KnownNames.Backbones"/> (resnet{depth}, sk_resnet{depth}).</summary>
    private static readonly Dictionary<int, (ResNetBlock Block, int[] Layers)> Depths = new()
    {
        [18] = (ResNetBlock.Basic, [2, 2, 2, 2]),
        [34] = (ResNetBlock.Basic, [3, 4, 6, 3]),
        [50] = (ResNetBlock.Bottleneck, [3, 4, 6, 3]),
        [101] = (ResNetBlock.Bottleneck, [3, 4, 23, 3]),
        [152] = (ResNetBlock.Bottleneck, [3, 8, 36, 3]),
        [200] = (ResNetBlock.Bottleneck, [3, 24, 36, 3]),
    };

    private static readonly Dictionary<string, Func<ModelConfig, long, IBackbone>> Prefixes = [];
    private static readonly object Lock = new();

    /// <summary>Built-in prefixes: "onnx:&lt;path&gt;" (<see cref="OnnxBackbone"/>).</summary>
    static BackboneRegistry() => RegisterPrefix(OnnxBackbone.Prefix, OnnxBackbone.FromConfig);

    /// <summary>Every built-in name, in a stable order.</summary>
    public static IReadOnlyList<string> Names => SemPPL.Config.KnownNames.Backbones;

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
        if (SemPPL.Config.KnownNames.Backbones.Contains(key))
        {
            bool sk = key.StartsWith(SemPPL.Config.KnownNames.SelectiveKernelPrefix, StringComparison.Ordinal);
            var r = Depths[int.Parse(key.AsSpan(key.LastIndexOf("resnet", StringComparison.Ordinal) + "resnet".Length), CultureInfo.InvariantCulture)];
            return new ResNet(key, r.Block, r.Layers, cfg.Width, cfg.Stem, inputChannels, cfg.ZeroInitResidual, sk ? SkRatio : 0.0);
        }
        Func<ModelConfig, long, IBackbone>? factory = null;
        lock (Lock)
            foreach (var (prefix, f) in Prefixes)
                if (name.StartsWith(prefix, StringComparison.Ordinal)) { factory = f; break; }
        if (factory is not null) return factory(cfg, inputChannels);
        throw new ArgumentException($"unknown backbone '{name}'; known backbones: {string.Join(", ", KnownNames)}");
    }
}
