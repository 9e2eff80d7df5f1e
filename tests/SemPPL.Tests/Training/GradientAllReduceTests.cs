using System.Runtime.InteropServices;
using SemPPL.Config;
using SemPPL.Distributed;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Tests.Reference;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Training;

/// <summary>
/// The data-parallel hook of the step: with a communicator, the gradients are views into one flat buffer that is
/// all-reduced between train and optimizer. One process stands in for the ranks here (the 2-rank step is not built yet).
/// </summary>
public sealed class GradientAllReduceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"semppl-flatgrad-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static readonly SessionSettings OneThread = new() { IntraOpThreads = 1, AllowSpinning = false };

    private (SemPPLConfig Config, Manifest Manifest, (float[], float[], long[]) Batch) Setup()
    {
        var config = TorchReferenceTests.TinyConfig();
        ConfigValidator.Validate(config);
        var manifest = ArtifactSetWriter.Write(config, labelledImages: 20, _dir);
        return (config, manifest, ReferenceHarness.MakeBatch(manifest.Shapes, seed: 11));
    }

    /// <summary>Three steps; the state after them and, per step, each gradient as train.onnx wrote it.</summary>
    private List<(string, HostTensor)> Run(ICommunicator? communicator, List<Dictionary<string, float[]>>? gradients = null)
    {
        var (config, manifest, batch) = Setup();
        using var run = new OurStepRunner(config, _dir, manifest, batch, OneThread, gradientAverage: communicator);
        var names = FlatGradients.Of(manifest).Select(g => g.Tensor!).ToHashSet();
        for (int k = 0; k < 3; k++)
        {
            run.Step(k, 0.02, 0.9);
            gradients?.Add(run.Graphs.Tensors.DownloadPassed().Where(p => names.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Tensor.Floats));
        }
        return run.Graphs.State.Download();
    }

    [Fact]
    public void A_flat_buffer_and_an_identity_all_reduce_leave_the_step_bit_identical()
    {
        var plain = Run(null);
        var flat = Run(new SingleProcessCommunicator());
        Assert.Equal(plain.Count, flat.Count);
        for (int i = 0; i < plain.Count; i++)
        {
            Assert.Equal(plain[i].Item1, flat[i].Item1);
            Assert.True(plain[i].Item2.ToBytes().AsSpan().SequenceEqual(flat[i].Item2.ToBytes()), $"state '{plain[i].Item1}' differs");
        }
    }

    [Fact]
    public void The_all_reduce_sees_every_gradient_of_the_step_in_one_buffer_before_the_optimizer_reads_it()
    {
        var expected = new List<Dictionary<string, float[]>>();
        var plainState = Run(null, expected);
        var (_, manifest, _) = Setup();
        var gradients = FlatGradients.Of(manifest);
        Assert.True(gradients.Count > 10, $"{gradients.Count} gradients");

        var recorder = new RecordingCommunicator();
        var state = Run(recorder);
        Assert.Equal(3, recorder.Calls.Count);
        for (int k = 0; k < 3; k++)
        {
            var buffer = recorder.Calls[k];
            long offset = 0;
            foreach (var g in gradients)
            {
                var want = expected[k][g.Tensor!];
                Assert.True(buffer.AsSpan((int)offset, want.Length).SequenceEqual(want), $"step {k}: gradient '{g.Tensor}' at {offset} in the flat buffer differs");
                long padded = (want.Length + FlatGradients.AlignFloats - 1) / FlatGradients.AlignFloats * FlatGradients.AlignFloats;
                Assert.True(buffer.AsSpan((int)offset + want.Length, (int)(padded - want.Length)).IndexOfAnyExcept(0f) < 0, $"padding after '{g.Tensor}' was written");
                offset += padded;
            }
            Assert.Equal(offset, buffer.Length);
            Assert.True(buffer.AsSpan().IndexOfAnyExcept(0f) >= 0, "the gradients are all zero");
        }
        Assert.Equal(plainState.Select(s => s.Item1), state.Select(s => s.Item1));

        // What the communicator leaves in the buffer is what the optimizer reads: zeroed gradients give another state.
        var zeroed = Run(new RecordingCommunicator { Zero = true });
        Assert.Contains(plainState.Zip(zeroed), p => !p.First.Item2.ToBytes().AsSpan().SequenceEqual(p.Second.Item2.ToBytes()));
    }

    /// <summary>A one-rank communicator that keeps a copy of each all-reduced buffer (and can zero it).</summary>
    private sealed class RecordingCommunicator : ICommunicator
    {
        public List<float[]> Calls { get; } = [];
        public bool Zero { get; init; }
        public int Rank => 0;
        public int WorldSize => 1;
        public BufferLocation Location => BufferLocation.Host;

        public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation)
        {
            var copy = new float[buffer.Count];
            Marshal.Copy(buffer.Pointer, copy, 0, copy.Length);
            Calls.Add(copy);
            if (Zero) Marshal.Copy(new float[copy.Length], 0, buffer.Pointer, copy.Length);
        }

        public void AllGather(CollectiveBuffer send, CollectiveBuffer receive) => throw new NotSupportedException();
        public void Broadcast(CollectiveBuffer buffer, int root) => throw new NotSupportedException();
        public void Barrier() { }
        public void Abort(string message, int exitCode) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
