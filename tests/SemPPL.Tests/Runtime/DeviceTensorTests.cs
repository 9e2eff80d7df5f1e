using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Runtime;

namespace SemPPL.Tests.Runtime;

public class DeviceTensorTests
{
    [Fact]
    public void Upload_download_round_trips_every_type()
    {
        using var f = new SessionFactory(ExecutionDevice.Auto, notice: _ => { });
        HostTensor[] hosts =
        [
            HostTensor.Float([2, 3], [1.5f, -0f, float.NaN, float.PositiveInfinity, 1e-40f, -7f]),
            HostTensor.Double([2], [Math.PI, -1e300]),
            HostTensor.Int64([3], [long.MinValue, 0, long.MaxValue]),
            HostTensor.Int32([2, 1], [-5, int.MaxValue]),
            HostTensor.Bool([3], [true, false, true]),
        ];
        using var state = new DeviceState(f);
        for (int i = 0; i < hosts.Length; i++)
        {
            var t = state.Upload($"t{i}", hosts[i]);
            Assert.Equal(hosts[i].Type, t.Type);
            Assert.Equal(hosts[i].Shape, t.Shape);
            var back = t.Download();
            Assert.Equal(hosts[i].Shape, back.Shape);
            Assert.Equal(hosts[i].ToBytes(), back.ToBytes());
        }
        var all = state.Download();
        Assert.Equal(["t0", "t1", "t2", "t3", "t4"], all.Select(a => a.Name));
    }

    [Fact]
    public void Span_upload_download_and_host_staging()
    {
        using var f = new SessionFactory(ExecutionDevice.Cpu);
        using var t = DeviceTensor.Allocate(f, "w", DType.Float, 2, 2);
        t.Upload<float>([1, 2, 3, 4]);
        var back = new float[4];
        t.Download<float>(back);
        Assert.Equal([1f, 2, 3, 4], back);

        using var staging = DeviceTensor.AllocateHost(f, "batch", DType.Int64, 3);
        staging.HostSpan<long>().Fill(9);
        Assert.Equal([9L, 9, 9], staging.Download().Longs);

        using var copy = DeviceTensor.Allocate(f, "w2", DType.Float, 2, 2);
        copy.CopyFrom(t);
        Assert.Equal([1f, 2, 3, 4], copy.Download().Floats);
    }

    [Fact]
    public void Mismatches_are_errors_naming_the_tensor()
    {
        using var f = new SessionFactory(ExecutionDevice.Cpu);
        using var t = DeviceTensor.Allocate(f, "w", DType.Float, 2, 2);
        var e = Assert.Throws<ArgumentException>(() => t.Upload(HostTensor.Float([4], [1, 2, 3, 4])));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("float [2,2]", e.Message);
        Assert.Contains("float [4]", e.Message);
        Assert.Throws<ArgumentException>(() => t.Upload<int>([1, 2, 3, 4]));
        Assert.Throws<ArgumentException>(() => t.Upload<float>([1, 2, 3]));
        Assert.Throws<ArgumentException>(() => DeviceTensor.Allocate(f, "dyn", DType.Float, -1, 4));

        using var s = new DeviceState(f);
        s.Allocate("a", DType.Float, 1);
        Assert.Throws<ArgumentException>(() => s.Allocate("a", DType.Float, 1));
        Assert.Contains("'nope'", Assert.Throws<KeyNotFoundException>(() => s["nope"]).Message);
    }
}
