using Microsoft.ML.OnnxRuntime;
using Onnx;
using SemPPL.GraphGen.Artifacts;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

/// <summary>The tiny run's artifact set, written once for the cache tests.</summary>
public sealed class TinyArtifactSet : IDisposable
{
    public TinyArtifactSet()
    {
        var manifest = ArtifactSetWriter.Write(SemPPL.Tests.Reference.TorchReferenceTests.TinyConfig("small"), labelledImages: 20, Dir);
        Initial = TensorFile.Read(Path.Combine(Dir, manifest.InitialWeights));
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"semppl-ortcache-artifacts-{Guid.NewGuid():N}");
    public TensorFileContents Initial { get; }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>
/// <see cref="OptimizedModelCache"/> through <see cref="SessionFactory"/>, on the tiny run's graphs (lowered as a run
/// lowers them): a session from the stored optimised train.onnx computes exactly what a freshly optimised one does;
/// an unusable entry or a crashed build's leftovers are rebuilt; anything in the key that changes misses (these on
/// target.onnx: quicker to optimise).
/// </summary>
public sealed class OptimizedModelCacheTests(TinyArtifactSet artifacts) : IClassFixture<TinyArtifactSet>, IDisposable
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), $"semppl-ortcache-test-{Guid.NewGuid():N}");
    private string _graph = Path.Combine(artifacts.Dir, ArtifactNames.TargetFile);

    private SessionFactory Factory(string? cache, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL, List<string>? notices = null) =>
        new(ExecutionDevice.Parse("cpu"), new SessionSettings { IntraOpThreads = 1, OptimizedModelCacheDirectory = cache, OptimizationLevel = level },
            line => { if (notices is not null) lock (notices) notices.Add(line); });

    private Dictionary<string, float[]> Run(SessionFactory factory)
    {
        using var session = factory.CreateSession(_graph);
        var feeds = NchwcLoweringTests.TinyRunFeeds(ModelProto.Parser.ParseFrom(File.ReadAllBytes(_graph)).Graph, artifacts.Initial);
        return NchwcLoweringTests.RunAll(session, feeds);
    }

    private static void AssertIdentical(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, a) in expected) Assert.True(a.AsSpan().SequenceEqual(actual[name]), $"output {name} differs");
    }

    private string[] Entries() => Directory.Exists(_cache) ? Directory.GetDirectories(_cache) : [];

    [Fact]
    public void A_session_from_the_cache_computes_exactly_what_an_optimised_one_does()
    {
        _graph = Path.Combine(artifacts.Dir, ArtifactNames.TrainFile);
        using var plain = Factory(null);
        var expected = Run(plain);
        Assert.Null(plain.ModelCache);

        using var first = Factory(_cache);
        AssertIdentical(expected, Run(first));
        Assert.Equal((0, 1), (first.ModelCache!.Hits, first.ModelCache.Builds));
        string entry = Assert.Single(Entries());
        Assert.True(File.Exists(Path.Combine(entry, "model.onnx")));

        using var second = Factory(_cache);
        AssertIdentical(expected, Run(second));
        Assert.Equal((1, 0, 0), (second.ModelCache!.Hits, second.ModelCache.Builds, second.ModelCache.Rebuilds));
        Assert.Single(Entries());
    }

    [Theory]
    [InlineData("garbage model")]
    [InlineData("truncated model")]
    [InlineData("no checksums")]
    public void An_unusable_entry_is_built_again(string damage)
    {
        using (var first = Factory(_cache)) Run(first);
        string entry = Assert.Single(Entries());
        string model = Path.Combine(entry, "model.onnx");
        switch (damage)
        {
            case "garbage model": File.WriteAllBytes(model, new byte[new FileInfo(model).Length]); break;
            case "truncated model": File.WriteAllBytes(model, File.ReadAllBytes(model)[..100]); break;
            default: File.Delete(Path.Combine(entry, "files.xxh128")); break;
        }

        var notices = new List<string>();
        using var second = Factory(_cache, notices: notices);
        var outputs = Run(second);
        Assert.Equal((0, 1, 1), (second.ModelCache!.Hits, second.ModelCache.Builds, second.ModelCache.Rebuilds));
        Assert.Contains(notices, n => n.Contains("unusable") && n.Contains(entry));
        using var plain = Factory(null);
        AssertIdentical(Run(plain), outputs);

        using var third = Factory(_cache);
        Run(third);
        Assert.Equal((1, 0), (third.ModelCache!.Hits, third.ModelCache.Builds));
    }

    [Fact]
    public void A_build_that_crashed_half_way_leaves_no_entry()
    {
        using var probe = Factory(_cache);
        string entry = probe.ModelCache!.EntryPath(probe.CacheKey(File.ReadAllBytes(_graph)));
        string leftover = entry + ".tmp-999999-0";
        Directory.CreateDirectory(leftover);
        File.WriteAllBytes(Path.Combine(leftover, "model.onnx"), [1, 2, 3]);

        Run(probe);
        Assert.Equal((0, 1), (probe.ModelCache.Hits, probe.ModelCache.Builds));
        Assert.True(Directory.Exists(entry));
    }

    [Fact]
    public void A_change_of_options_lowering_or_graph_misses()
    {
        using (var all = Factory(_cache)) Run(all);
        using (var basic = Factory(_cache, GraphOptimizationLevel.ORT_ENABLE_BASIC))
        {
            Run(basic);
            Assert.Equal((0, 1), (basic.ModelCache!.Hits, basic.ModelCache.Builds));
        }
        Assert.Equal(2, Entries().Length);

        using var factory = Factory(_cache);
        byte[] model = File.ReadAllBytes(_graph);
        string key = factory.CacheKey(model);
        Assert.Contains($"onnxruntime: {OrtEnv.Instance().GetVersionString()}", key);
        Assert.Contains($"NCHWc block {NchwcSupport.BlockSize}", key);
        Assert.Contains(CpuFeatures.Current.ToString(), key);
        using var unlowered = new SessionFactory(ExecutionDevice.Parse("cpu"), new SessionSettings { OptimizedModelCacheDirectory = _cache, LowerConvolutions = false });
        if (NchwcSupport.BlockSize > 1) Assert.NotEqual(key, unlowered.CacheKey(model));
        var edited = ModelProto.Parser.ParseFrom(model);
        edited.DocString += " ";
        Assert.NotEqual(key, factory.CacheKey(Google.Protobuf.MessageExtensions.ToByteArray(edited)));
        using var again = Factory(_cache);
        Assert.Equal(key, again.CacheKey(model)); // and stable
    }

    [Fact]
    public void The_cache_folder_comes_from_the_environment_variable_or_the_users_cache()
    {
        Assert.EndsWith(Path.Combine("semppl", "ort"), OptimizedModelCache.DefaultDirectory());
        Assert.Null(new SessionFactory(ExecutionDevice.Parse("cpu")).ModelCache); // only runs (SessionSettings.ForRun) cache
    }

    public void Dispose()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }
}
