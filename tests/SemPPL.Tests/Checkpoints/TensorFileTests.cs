using System.Buffers.Binary;
using System.Text;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.Tests.Checkpoints;

public sealed class TensorFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("semppl-tf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static List<(string Name, HostTensor Tensor)> Sample()
    {
        var w = new float[3 * 5];
        for (int i = 0; i < w.Length; i++) w[i] = MathF.Cos(i) * 1e-3f;
        w[3] = BitConverter.Int32BitsToSingle(0x7FC0_1234); // a NaN with a payload
        w[4] = -0f;
        return
        [
            ("enc.w", HostTensor.Float([3, 5], w)),
            ("scalar", HostTensor.Float([], [42f])),
            ("d", HostTensor.Double([2], [1.0 / 3, double.Epsilon])),
            ("step", HostTensor.Int64([1], [123456789012])),
            ("labels", HostTensor.Int32([4], [0, -1, 9, int.MinValue])),
            ("mask", HostTensor.Bool([3], [true, false, true])),
            ("empty", HostTensor.Float([0, 4], [])),
        ];
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, TensorFile.Crc32.Compute("123456789"u8));
        var data = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog, twice over.");
        Assert.Equal(TensorFile.Crc32.Compute(data), TensorFile.Crc32.Append(TensorFile.Crc32.Compute(data.AsSpan(0, 13)), data.AsSpan(13)));
    }

    [Fact]
    public void Round_trip_is_bit_identical_and_laid_out_as_documented()
    {
        string path = Path.Combine(_dir, "a.spt");
        var tensors = Sample();
        var meta = new Dictionary<string, string> { ["rng"] = "{\"state\":[1,2]}", ["config_hash"] = "abc", ["ünï"] = "çødé" };
        TensorFile.Write(path, tensors, meta);

        var back = TensorFile.Read(path);
        Assert.Equal(tensors.Select(t => t.Name), back.Tensors.Select(t => t.Name));
        for (int i = 0; i < tensors.Count; i++)
        {
            Assert.Equal(tensors[i].Tensor.Type, back.Tensors[i].Tensor.Type);
            Assert.Equal(tensors[i].Tensor.Shape, back.Tensors[i].Tensor.Shape);
            Assert.Equal(tensors[i].Tensor.ToBytes(), back.Tensors[i].Tensor.ToBytes());
        }
        Assert.Equal(meta, back.Metadata);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal("SPPLTNS1"u8.ToArray(), bytes[..8]);
        long h = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        var header = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(16, (int)h))!;
        long dataStart = (16 + h + 63) / 64 * 64;
        foreach (var e in header["tensors"]!.AsArray())
            Assert.Equal(0, (dataStart + e!["offset"]!.GetValue<long>()) % 64);
        Assert.Equal("float32", header["tensors"]![0]!["dtype"]!.GetValue<string>());
        Assert.DoesNotContain(Directory.GetFiles(_dir), f => TensorFile.IsTemporaryFile(Path.GetFileName(f)));
    }

    [Fact]
    public void A_flipped_data_byte_names_file_and_tensor()
    {
        string path = Path.Combine(_dir, "b.spt");
        TensorFile.Write(path, Sample(), new Dictionary<string, string>());
        var bytes = File.ReadAllBytes(path);
        long h = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        long dataStart = (16 + h + 63) / 64 * 64;
        bytes[dataStart + 5] ^= 0x10; // inside "enc.w"
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => TensorFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'enc.w'", e.Message);
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void Truncation_bad_magic_and_edited_metadata_are_detected()
    {
        string path = Path.Combine(_dir, "c.spt");
        TensorFile.Write(path, Sample(), new Dictionary<string, string> { ["step"] = "100" });
        var good = File.ReadAllBytes(path);

        File.WriteAllBytes(path, good[..^3]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => TensorFile.Read(path)).Message);

        var bad = (byte[])good.Clone();
        bad[0] = (byte)'X';
        File.WriteAllBytes(path, bad);
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => TensorFile.Read(path)).Message);

        var edited = (byte[])good.Clone();
        int at = edited.AsSpan().IndexOf("\"step\":\"100\""u8);
        Assert.True(at > 0);
        edited[at + 8] = (byte)'9';
        File.WriteAllBytes(path, edited);
        Assert.Contains("metadata", Assert.Throws<InvalidDataException>(() => TensorFile.Read(path)).Message);

        File.WriteAllBytes(path, good[..10]);
        Assert.Throws<InvalidDataException>(() => TensorFile.Read(path));
    }

    [Fact]
    public void Write_replaces_atomically_and_rejects_duplicate_names()
    {
        string path = Path.Combine(_dir, "d.spt");
        TensorFile.Write(path, [("a", HostTensor.Float([1], [1f]))], null);
        TensorFile.Write(path, [("a", HostTensor.Float([1], [2f]))], null);
        Assert.Equal(2f, TensorFile.Read(path)["a"].Floats[0]);
        Assert.Throws<ArgumentException>(() => TensorFile.Write(path, [("a", HostTensor.Scalar(1)), ("a", HostTensor.Scalar(2))], null));
        Assert.Equal(2f, TensorFile.Read(path)["a"].Floats[0]);
        Assert.Single(Directory.GetFiles(_dir));
    }
}
