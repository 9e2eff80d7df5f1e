using SemPPL.GraphGen.Onnx;

namespace SemPPL.Trainer.Runtime;

/// <summary>
/// Named device tensors that live for a whole run (parameters, optimizer state, BN statistics, the queue,
/// gradients). Owns and disposes them. Names are unique; <see cref="this[string]"/> fails with the name.
/// </summary>
public sealed class DeviceState : IDisposable
{
    private readonly SessionFactory _factory;
    private readonly Dictionary<string, DeviceTensor> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public DeviceState(SessionFactory factory) => _factory = factory;

    public SessionFactory Factory => _factory;

    /// <summary>Names in insertion order.</summary>
    public IReadOnlyList<string> Names => _order;

    public int Count => _order.Count;

    public DeviceTensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"device state has no tensor named '{name}' ({_order.Count} tensors)");

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public bool TryGet(string name, out DeviceTensor tensor) => _tensors.TryGetValue(name, out tensor!);

    /// <summary>Takes ownership of a tensor under its <see cref="DeviceTensor.Name"/>.</summary>
    public DeviceTensor Add(DeviceTensor tensor)
    {
        if (!_tensors.TryAdd(tensor.Name, tensor))
            throw new ArgumentException($"device state already has a tensor named '{tensor.Name}'");
        _order.Add(tensor.Name);
        return tensor;
    }

    public DeviceTensor Allocate(string name, DType type, params long[] shape) =>
        Add(DeviceTensor.Allocate(_factory, name, type, shape));

    /// <summary>Allocates a tensor of the host tensor's type and shape on the device and uploads it.</summary>
    public DeviceTensor Upload(string name, HostTensor host) => Add(DeviceTensor.FromHost(_factory, name, host));

    /// <summary>Allocates a tensor filled with a value (zeros for momenta, a step counter, ...).</summary>
    public DeviceTensor Filled(string name, DType type, long[] shape, double value) =>
        Upload(name, HostTensor.Filled(type, shape, value));

    /// <summary>Downloads the named tensors (all, in insertion order, when names is null): for checkpoints.</summary>
    public List<(string Name, HostTensor Tensor)> Download(IEnumerable<string>? names = null) =>
        (names ?? _order).Select(n => (n, this[n].Download())).ToList();

    /// <summary>Uploads host tensors into existing tensors of the same names (checkpoint restore).</summary>
    public void Restore(IEnumerable<(string Name, HostTensor Tensor)> tensors)
    {
        foreach (var (name, t) in tensors) this[name].Upload(t);
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
        _order.Clear();
    }
}
