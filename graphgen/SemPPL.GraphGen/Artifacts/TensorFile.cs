using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Artifacts;

/// <summary>What <see cref="TensorFile.Read"/> returns: tensors in file order, and the metadata map.</summary>
public sealed class TensorFileContents(string path, IReadOnlyList<(string Name, HostTensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
{
    public string Path { get; } = path;
    public IReadOnlyList<(string Name, HostTensor Tensor)> Tensors { get; } = tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;

    public HostTensor this[string name] =>
        Tensors.FirstOrDefault(t => t.Name == name).Tensor ?? throw new KeyNotFoundException($"tensor file '{Path}' has no tensor named '{name}'");
}

/// <summary>Options for <see cref="TensorFile.Write"/>.</summary>
public sealed class TensorFileWriteOptions
{
    /// <summary>Bytes written per write call (default 4 MiB).</summary>
    public int ChunkBytes { get; init; } = 4 << 20;

    /// <summary>Called after every chunk with the data bytes written so far and the total (progress reporting).</summary>
    public Action<long, long>? Progress { get; init; }
}

/// <summary>
/// A binary file of named tensors with a string metadata map (initial weights, checkpoints).
/// <code>
/// offset 0   8 bytes   magic "SPPLTNS1" (ASCII)
/// offset 8   8 bytes   H: header length in bytes, int64 little-endian
/// offset 16  H bytes   header: UTF-8 JSON (below)
///            padding   zero bytes up to D = the next multiple of 64 after 16 + H
/// offset D   data      each tensor's bytes at D + offset, every offset a multiple of 64 (zero padding between)
/// </code>
/// Header JSON:
/// <code>
/// {
///   "tensors": [ { "name": "enc.conv1.w", "dtype": "float32", "shape": [64,3,7,7],
///                  "offset": 0, "length": 37632, "crc32": 1234567890 }, ... ],
///   "metadata": { "step": "1000", ... },
///   "metadata_crc32": 987654321
/// }
/// </code>
/// <list type="bullet">
/// <item>dtype: float32, float64, int64, int32, bool (one byte, 0 or 1). Data are little-endian, row-major (C order).</item>
/// <item>offset: from the start of the data section D; length = element count x element size.</item>
/// <item>crc32: CRC-32 (IEEE 802.3, polynomial 0xEDB88320, as zlib's crc32) of the tensor's bytes.</item>
/// <item>metadata: string keys to string values (structured values are JSON text in a string).
/// metadata_crc32: CRC-32 of the UTF-8 JSON of the metadata object written with keys sorted by ordinal,
/// no whitespace (System.Text.Json's default escaping).</item>
/// <item>The file length is D + the end of the last tensor's data. Tensor names are unique.</item>
/// </list>
/// <see cref="Write"/> is atomic: it writes a temporary file in the target's folder, flushes it to disk,
/// renames it over the target, then flushes the folder; a reader sees the old file or the whole new one.
/// <see cref="Read"/> verifies the magic, the header and every CRC, and throws
/// <see cref="InvalidDataException"/> naming the file (and the tensor) on any mismatch.
/// </summary>
public static class TensorFile
{
    public static ReadOnlySpan<byte> Magic => "SPPLTNS1"u8;
    public const int Alignment = 64;

    /// <summary>Temporary files of an unfinished write: "." + target file name + ".tmp-" + a unique part.</summary>
    public static bool IsTemporaryFile(string fileName) => fileName.StartsWith('.') && fileName.Contains(".tmp-", StringComparison.Ordinal);

    public static void Write(string path, IReadOnlyList<(string Name, HostTensor Tensor)> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null, TensorFileWriteOptions? options = null)
    {
        options ??= new TensorFileWriteOptions();
        metadata ??= new Dictionary<string, string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in tensors)
            if (!names.Add(name)) throw new ArgumentException($"tensor file '{path}': tensor name '{name}' appears twice");

        // Layout and checksums first: the header precedes the data.
        var entries = new JsonArray();
        long offset = 0;
        var offsets = new long[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, t) = tensors[i];
            var bytes = Bytes(t);
            offsets[i] = offset;
            var shape = new JsonArray();
            foreach (var d in t.Shape) shape.Add(d);
            entries.Add(new JsonObject
            {
                ["name"] = name,
                ["dtype"] = DTypeName(t.Type),
                ["shape"] = shape,
                ["offset"] = offset,
                ["length"] = (long)bytes.Length,
                ["crc32"] = Crc32.Compute(bytes),
            });
            offset = Align(offset + bytes.Length);
        }
        var meta = new JsonObject();
        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) meta[k] = v;
        var header = new JsonObject
        {
            ["tensors"] = entries,
            ["metadata"] = meta,
            ["metadata_crc32"] = MetadataCrc(metadata),
        };
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        long dataStart = Align(16 + headerBytes.Length);
        long total = tensors.Count == 0 ? 0 : offsets[^1] + Bytes(tensors[^1].Tensor).Length;

        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(len, headerBytes.Length);
                fs.Write(Magic);
                fs.Write(len);
                fs.Write(headerBytes);
                WriteZeros(fs, dataStart - (16 + headerBytes.Length));
                long written = 0;
                int chunk = Math.Max(1, options.ChunkBytes);
                for (int i = 0; i < tensors.Count; i++)
                {
                    WriteZeros(fs, dataStart + offsets[i] - fs.Position);
                    var bytes = Bytes(tensors[i].Tensor);
                    for (int at = 0; at < bytes.Length; at += chunk)
                    {
                        int n = Math.Min(chunk, bytes.Length - at);
                        fs.Write(bytes.Slice(at, n));
                        written += n;
                        options.Progress?.Invoke(written, total);
                    }
                }
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true); // rename(2): atomic on POSIX file systems
            SyncFolder(folder);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    public static TensorFileContents Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = fs.Length;
        Span<byte> head = stackalloc byte[16];
        if (fileLength < 16 || fs.ReadAtLeast(head, 16, throwOnEndOfStream: false) < 16)
            throw Bad(path, $"it is {fileLength} bytes long, shorter than the 16-byte preamble");
        if (!head[..8].SequenceEqual(Magic))
            throw Bad(path, $"it does not start with the magic \"SPPLTNS1\"");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(head[8..]);
        if (headerLength <= 0 || headerLength > fileLength - 16)
            throw Bad(path, $"its header length {headerLength} does not fit a file of {fileLength} bytes");
        var headerBytes = new byte[headerLength];
        fs.ReadExactly(headerBytes);

        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes)?.AsObject() ?? throw new JsonException("empty header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or DecoderFallbackException)
        {
            throw Bad(path, $"its header is not valid JSON ({e.Message})");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        List<(string, HostTensor)> tensors = [];
        try
        {
            foreach (var (k, v) in header["metadata"]?.AsObject() ?? [])
                metadata[k] = v?.GetValue<string>() ?? throw Bad(path, $"metadata '{k}' is null");
            uint metaCrc = header["metadata_crc32"]?.GetValue<uint>() ?? throw Bad(path, "its header has no metadata_crc32");
            if (metaCrc != MetadataCrc(metadata))
                throw Bad(path, "its metadata do not match their CRC-32");

            long dataStart = Align(16 + headerLength);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var node in header["tensors"]?.AsArray() ?? throw Bad(path, "its header has no tensor list"))
            {
                var e = node?.AsObject() ?? throw Bad(path, "its tensor list has a null entry");
                string name = e["name"]?.GetValue<string>() ?? throw Bad(path, "a tensor entry has no name");
                if (!seen.Add(name)) throw Bad(path, $"tensor '{name}' appears twice");
                DType type = ParseDType(e["dtype"]?.GetValue<string>(), path, name);
                long[] shape = e["shape"]?.AsArray().Select(d => d!.GetValue<long>()).ToArray() ?? throw Bad(path, $"tensor '{name}' has no shape");
                long off = e["offset"]?.GetValue<long>() ?? -1, length = e["length"]?.GetValue<long>() ?? -1;
                uint crc = e["crc32"]?.GetValue<uint>() ?? throw Bad(path, $"tensor '{name}' has no crc32");
                long count = 1;
                foreach (var d in shape)
                {
                    if (d < 0) throw Bad(path, $"tensor '{name}' has a negative dimension");
                    count = checked(count * d);
                }
                if (length != count * type.ByteSize())
                    throw Bad(path, $"tensor '{name}' of shape [{string.Join(",", shape)}] has length {length}, expected {count * type.ByteSize()}");
                if (off < 0 || off % Alignment != 0 || dataStart + off + length > fileLength)
                    throw Bad(path, $"tensor '{name}' (offset {off}, {length} bytes) lies outside the file of {fileLength} bytes (truncated?)");
                var raw = new byte[length];
                fs.Position = dataStart + off;
                fs.ReadExactly(raw);
                if (Crc32.Compute(raw) != crc)
                    throw Bad(path, $"tensor '{name}' does not match its CRC-32 (corrupt data)");
                tensors.Add((name, HostTensor.FromBytes(type, shape, raw)));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or JsonException or ArgumentException)
        {
            throw Bad(path, $"its header is malformed ({e.Message})");
        }
        return new TensorFileContents(path, tensors, metadata);
    }

    public static string DTypeName(DType t) => t switch
    {
        DType.Float => "float32",
        DType.Double => "float64",
        DType.Int64 => "int64",
        DType.Int32 => "int32",
        DType.Bool => "bool",
        _ => throw new NotSupportedException($"tensor files do not store {t}"),
    };

    private static DType ParseDType(string? s, string path, string name) => s switch
    {
        "float32" => DType.Float,
        "float64" => DType.Double,
        "int64" => DType.Int64,
        "int32" => DType.Int32,
        "bool" => DType.Bool,
        _ => throw Bad(path, $"tensor '{name}' has unknown dtype '{s}'"),
    };

    private static InvalidDataException Bad(string path, string what) => new($"tensor file '{path}' is unreadable: {what}");

    private static long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private static ReadOnlySpan<byte> Bytes(HostTensor t) => t.Type switch
    {
        DType.Float => MemoryMarshal.AsBytes(t.Floats.AsSpan()),
        DType.Double => MemoryMarshal.AsBytes(t.Doubles.AsSpan()),
        DType.Int64 => MemoryMarshal.AsBytes(t.Longs.AsSpan()),
        DType.Int32 => MemoryMarshal.AsBytes(t.Ints.AsSpan()),
        DType.Bool => MemoryMarshal.AsBytes(t.Bools.AsSpan()),
        _ => throw new NotSupportedException($"tensor files do not store {t.Type}"),
    };

    private static uint MetadataCrc(IReadOnlyDictionary<string, string> metadata)
    {
        var o = new JsonObject();
        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) o[k] = v;
        return Crc32.Compute(Encoding.UTF8.GetBytes(o.ToJsonString()));
    }

    private static void WriteZeros(Stream s, long n)
    {
        if (n < 0) throw new InvalidOperationException("tensor file layout error");
        Span<byte> zeros = stackalloc byte[Alignment];
        zeros.Clear();
        while (n > 0)
        {
            int k = (int)Math.Min(n, zeros.Length);
            s.Write(zeros[..k]);
            n -= k;
        }
    }

    /// <summary>fsync on the folder so the rename itself is durable (Linux/macOS; best effort).</summary>
    private static void SyncFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            int fd = Native.open(folder, 0 /* O_RDONLY */);
            if (fd >= 0)
            {
                Native.fsync(fd);
                Native.close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    private static partial class Native
    {
        [DllImport("libc", SetLastError = true)] public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
        [DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
        [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), slicing by 8.</summary>
    public static class Crc32
    {
        private static readonly uint[] Table = BuildTable();

        public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

        /// <summary>Continues a CRC: Append(Compute(a), b) == Compute(a ++ b).</summary>
        public static uint Append(uint crc, ReadOnlySpan<byte> data)
        {
            uint c = ~crc;
            var t = Table;
            while (data.Length >= 8)
            {
                uint a = c ^ BinaryPrimitives.ReadUInt32LittleEndian(data);
                uint b = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
                c = t[7 * 256 + (a & 0xFF)] ^ t[6 * 256 + ((a >> 8) & 0xFF)] ^ t[5 * 256 + ((a >> 16) & 0xFF)] ^ t[4 * 256 + (a >> 24)]
                  ^ t[3 * 256 + (b & 0xFF)] ^ t[2 * 256 + ((b >> 8) & 0xFF)] ^ t[1 * 256 + ((b >> 16) & 0xFF)] ^ t[b >> 24];
                data = data[8..];
            }
            foreach (byte x in data) c = t[(c ^ x) & 0xFF] ^ (c >> 8);
            return ~c;
        }

        private static uint[] BuildTable()
        {
            var t = new uint[8 * 256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
            for (int s = 1; s < 8; s++)
                for (int i = 0; i < 256; i++)
                    t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[t[(s - 1) * 256 + i] & 0xFF];
            return t;
        }
    }
}
