using Google.Protobuf;
using Onnx;
using SemPPL.Config;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Tests.Reference;
using SemPPL.Tests.TestConfigs;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Tests.Training;

/// <summary>
/// The trainer binds an artifact set by its manifest alone (each input and output's kind and role, the state list, the
/// step order), never by a tensor name: a set whose every name is changed still runs and computes the same step.
/// </summary>
public sealed class ArtifactContractTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"semppl-contract-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void A_set_with_every_name_changed_binds_from_its_manifest_and_computes_the_same_steps()
    {
        var config = TorchReferenceTests.TinyConfig();
        ConfigValidator.Validate(config);
        string original = Path.Combine(_dir, "original"), renamed = Path.Combine(_dir, "renamed");
        var manifest = ArtifactSetWriter.Write(config, labelledImages: 20, original);
        var (other, stateNames) = Rename(original, manifest, renamed);

        // Nothing of today's naming is left: not a file, graph, state or I/O name.
        string json = File.ReadAllText(Path.Combine(renamed, ArtifactNames.ManifestFile));
        foreach (var name in new[] { "online.", "target.", "queue.", "grad.", "new.", "state.", "views.", "push.", ".onnx", ".spt" })
            Assert.DoesNotContain(name, json);

        var batch = ReferenceHarness.MakeBatch(manifest.Shapes, seed: 5);
        var settings = new SessionSettings { IntraOpThreads = 1, AllowSpinning = false };
        var (partsA, stateA) = RunSteps(config, original, manifest, batch, settings);
        var (partsB, stateB) = RunSteps(config, renamed, other, batch, settings);

        Assert.Equal(partsA, partsB);
        Assert.Equal(stateA.Count, stateB.Count);
        var byName = stateB.ToDictionary(t => t.Name, t => t.Tensor);
        foreach (var (name, t) in stateA)
        {
            var u = byName[stateNames[name]];
            if (t.Type == DType.Int64) Assert.Equal(t.Longs, u.Longs);
            else Assert.True(t.Floats.SequenceEqual(u.Floats), $"state '{name}' differs after the steps");
        }
    }

    [Fact]
    public void A_set_of_the_old_manifest_format_is_refused_with_a_message_and_regenerated_by_a_run()
    {
        var config = TorchReferenceTests.TinyConfig();
        ConfigValidator.Validate(config);
        string dir = Path.Combine(_dir, "old");
        ArtifactSetWriter.Write(config, labelledImages: 20, dir);
        string path = Path.Combine(dir, ArtifactNames.ManifestFile);
        File.WriteAllText(path, File.ReadAllText(path).Replace($"\"format\": {Manifest.CurrentFormat},", "\"format\": 1,"));

        var e = Assert.Throws<InvalidDataException>(() => Manifest.Read(path));
        Assert.Contains("format 1", e.Message);
        Assert.Contains("regenerate", e.Message);

        var log = new List<string>();
        var regenerated = RunSetup.EnsureArtifacts(config, 20, dir, log.Add);
        Assert.Equal(Manifest.CurrentFormat, regenerated.Format);
        Assert.Contains(log, l => l.Contains("manifest format 1", StringComparison.Ordinal));
        Assert.Equal(Manifest.CurrentFormat, Manifest.Read(path).Format);
    }

    [Fact]
    public void A_set_written_by_another_graphgen_version_is_regenerated_by_a_run()
    {   // a version bump changes the graphs' formulation (not their names): a run must not keep the old graphs
        var config = TorchReferenceTests.TinyConfig();
        ConfigValidator.Validate(config);
        string dir = Path.Combine(_dir, "older-graphgen");
        ArtifactSetWriter.Write(config, labelledImages: 20, dir);
        string path = Path.Combine(dir, ArtifactNames.ManifestFile);
        string text = File.ReadAllText(path);
        Assert.Contains($"\"toolVersion\": \"{ArtifactSetWriter.ToolVersion}\"", text);
        File.WriteAllText(path, text.Replace($"\"toolVersion\": \"{ArtifactSetWriter.ToolVersion}\"", "\"toolVersion\": \"0.3.0\""));

        var log = new List<string>();
        var regenerated = RunSetup.EnsureArtifacts(config, 20, dir, log.Add);
        Assert.Equal(ArtifactSetWriter.ToolVersion, regenerated.ToolVersion);
        Assert.Contains(log, l => l.Contains("by graphgen 0.3.0", StringComparison.Ordinal) && l.Contains("regenerating", StringComparison.Ordinal));
        Assert.Equal(ArtifactSetWriter.ToolVersion, Manifest.Read(path).ToolVersion);
    }

    private static (List<StepParts> Parts, List<(string Name, HostTensor Tensor)> State) RunSteps(SemPPLConfig config, string dir, Manifest manifest,
        (float[] Large, float[] Small, long[] Labels) batch, SessionSettings settings)
    {
        using var run = new OurStepRunner(config, dir, manifest, batch, settings);
        // Three steps: the queue (capacity 12, 8 pushes a step) fills and wraps, and the pseudo-labels read it after each push.
        var parts = Enumerable.Range(0, 3).Select(k => run.Step(k, 0.02, 0.9)).ToList();
        return (parts, run.Graphs.State.Download());
    }

    /// <summary>
    /// Copies an artifact set with new names for everything: files, graph keys, each graph's inputs and outputs (per graph,
    /// so one value has different names in different graphs), state tensors and passed values. Returns the new manifest
    /// and the old -> new state names.
    /// </summary>
    private static (Manifest Manifest, Dictionary<string, string> StateNames) Rename(string from, Manifest m, string to)
    {
        Directory.CreateDirectory(to);
        var states = m.State.Select((s, i) => (s.Name, New: $"s{i}")).ToDictionary(x => x.Name, x => x.New);
        var passed = new Dictionary<string, string>();
        string Passed(string t) => passed.TryGetValue(t, out var n) ? n : passed[t] = $"v{passed.Count}";
        var keys = m.Graphs.Keys.Select((k, i) => (k, New: $"g{i}")).ToDictionary(x => x.k, x => x.New);
        var graphs = new SortedDictionary<string, GraphEntry>(StringComparer.Ordinal);
        foreach (var (key, g) in m.Graphs)
        {
            string k = keys[key];
            var io = g.Inputs.Select((x, i) => (x.Name, New: $"{k}_i{i}")).Concat(g.Outputs.Select((x, i) => (x.Name, New: $"{k}_o{i}")))
                .ToDictionary(x => x.Name, x => x.New);
            GraphIo Map(GraphIo x) => x with
            {
                Name = io[x.Name],
                Tensor = x.Tensor is null ? null : x.Kind == IoKind.Passed ? Passed(x.Tensor) : states.GetValueOrDefault(x.Tensor, x.Tensor),
                Replaces = x.Replaces is null ? null : io[x.Replaces],
            };
            RenameGraph(Path.Combine(from, g.File), Path.Combine(to, k + ".model"), io);
            graphs[k] = g with { File = k + ".model", Inputs = g.Inputs.Select(Map).ToList(), Outputs = g.Outputs.Select(Map).ToList() };
        }
        var initial = TensorFile.Read(Path.Combine(from, m.InitialWeights));
        TensorFile.Write(Path.Combine(to, "w.bin"), initial.Tensors.Select(t => (states[t.Name], t.Tensor)).ToList(), new Dictionary<string, string>());
        var renamed = m with
        {
            Graphs = graphs,
            Step = m.Step.Select(k => keys[k]).ToList(),
            State = m.State.Select(s => s with { Name = states[s.Name], CopyOf = s.CopyOf is null ? null : states[s.CopyOf] }).ToList(),
            Parameters = m.Parameters.Select(p => p with { Name = states[p.Name], Head = "h" }).ToList(),
            Buffers = m.Buffers.Select(b => b with { Name = states[b.Name] }).ToList(),
            InitialWeights = "w.bin",
        };
        File.WriteAllText(Path.Combine(to, ArtifactNames.ManifestFile), renamed.ToJson());
        return (Manifest.Read(Path.Combine(to, ArtifactNames.ManifestFile)), states);
    }

    /// <summary>Renames graph inputs and outputs (and every node reference to them) of an ONNX file.</summary>
    private static void RenameGraph(string from, string to, IReadOnlyDictionary<string, string> names)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(from));
        string N(string n) => names.TryGetValue(n, out var r) ? r : n;
        foreach (var v in model.Graph.Input.Concat(model.Graph.Output).Concat(model.Graph.ValueInfo)) v.Name = N(v.Name);
        foreach (var node in model.Graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++) node.Input[i] = N(node.Input[i]);
            for (int i = 0; i < node.Output.Count; i++) node.Output[i] = N(node.Output[i]);
        }
        model.Graph.Name = "renamed";
        File.WriteAllBytes(to, model.ToByteArray());
    }
}
