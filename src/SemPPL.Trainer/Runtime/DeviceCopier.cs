using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Host &lt;-&gt; device copies for CUDA, and the allocator for device tensors.
/// <para>
/// A copy runs a one-node Identity graph (any rank) on the device's execution provider with an
/// <see cref="OrtIoBinding"/>: the source OrtValue bound as input, the destination as output. ONNX Runtime
/// moves the data across devices itself (input copy to the device, or output copy back to the host), so
/// this uses only the documented IoBinding path. It allocates (bindings, temporaries): use it to load
/// and save state, not inside the step; per-step inputs are bound directly from host staging tensors.
/// On the CPU no session is needed: copies are span copies.
/// </para>
/// The float copy session also owns the CUDA allocator (<see cref="OrtAllocator"/> of a session), which
/// is why the <see cref="SessionFactory"/> must outlive the device tensors.
/// </summary>
internal sealed class DeviceCopier : IDisposable
{
    private readonly SessionFactory _factory;
    private readonly Dictionary<DType, InferenceSession> _sessions = [];
    private readonly RunOptions _runOptions = new();
    private readonly OrtAllocator _allocator;
    private readonly bool _ownsAllocator;

    public DeviceCopier(SessionFactory factory)
    {
        _factory = factory;
        if (factory.IsCuda)
        {
            var anchor = Session(DType.Float); // throws when CUDA cannot start: the factory's probe
            _allocator = new OrtAllocator(anchor, factory.DeviceMemoryInfo);
            _ownsAllocator = true;
        }
        else
        {
            _allocator = OrtAllocator.DefaultInstance;
        }
    }

    public OrtAllocator Allocator => _allocator;

    private InferenceSession Session(DType type)
    {
        if (_sessions.TryGetValue(type, out var s)) return s;
        s = _factory.CreateSession(IdentityModel(type));
        _sessions[type] = s;
        return s;
    }

    /// <summary>Copies src into dst (same element type and element count); either may be on the host or the device.</summary>
    public void Copy(OrtValue src, OrtValue dst, DType type)
    {
        var session = Session(type);
        using var binding = session.CreateIoBinding();
        binding.BindInput("x", src);
        binding.BindOutput("y", dst);
        session.RunWithBinding(_runOptions, binding);
        binding.SynchronizeBoundOutputs();
    }

    internal static byte[] IdentityModel(DType type)
    {
        // No shape on the value infos: the graph accepts any rank and any dimensions.
        var tensorType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } };
        var g = new GraphProto { Name = $"copy_{type}".ToLowerInvariant() };
        g.Input.Add(new ValueInfoProto { Name = "x", Type = tensorType });
        g.Output.Add(new ValueInfoProto { Name = "y", Type = tensorType.Clone() });
        var node = new NodeProto { Name = "copy", OpType = "Identity" };
        node.Input.Add("x");
        node.Output.Add("y");
        g.Node.Add(node);
        var m = new ModelProto { IrVersion = GraphBuilder.DefaultIrVersion, ProducerName = "SemPPL.Ort runtime", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = GraphBuilder.DefaultOpset });
        return m.ToByteArray();
    }

    public void Dispose()
    {
        if (_ownsAllocator) _allocator.Dispose();
        foreach (var s in _sessions.Values) s.Dispose();
        _sessions.Clear();
        _runOptions.Dispose();
    }
}
