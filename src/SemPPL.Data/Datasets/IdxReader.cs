using System.Buffers.Binary;
using System.IO.Compression;

namespace SemPPL.Data.Datasets;

/// <summary>Reads IDX files (MNIST family), raw or gzip-compressed (detected by the gzip magic, not the extension).</summary>
public static class IdxReader
{
    /// <summary>Dimensions and unsigned-byte payload of an IDX file.</summary>
    public sealed record IdxArray(int[] Dims, byte[] Data);

    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new DataConfigException($"IDX file '{path}' does not exist.");
        using var fs = File.OpenRead(path);
        return Read(fs, path);
    }

    public static IdxArray Read(Stream stream, string nameForErrors)
    {
        var head = new byte[2];
        Stream s = stream;
        if (stream.CanSeek)
        {
            int n = stream.Read(head, 0, 2);
            stream.Seek(-n, SeekOrigin.Current);
            if (n == 2 && head[0] == 0x1F && head[1] == 0x8B) s = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
        }
        try
        {
            var magic = new byte[4];
            s.ReadExactly(magic);
            if (magic[0] != 0 || magic[1] != 0) throw new DataConfigException($"'{nameForErrors}' is not an IDX file (bad magic).");
            if (magic[2] != 0x08) throw new DataConfigException($"'{nameForErrors}': only unsigned-byte IDX (type 0x08) is supported, found 0x{magic[2]:X2}.");
            int ndim = magic[3];
            if (ndim is < 1 or > 4) throw new DataConfigException($"'{nameForErrors}': unsupported IDX rank {ndim}.");
            var dimBytes = new byte[4 * ndim];
            s.ReadExactly(dimBytes);
            var dims = new int[ndim];
            long total = 1;
            for (int i = 0; i < ndim; i++)
            {
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * i));
                total *= dims[i];
            }
            if (total > Array.MaxLength) throw new DataConfigException($"'{nameForErrors}': IDX payload too large ({total} bytes).");
            var data = new byte[total];
            s.ReadExactly(data);
            return new IdxArray(dims, data);
        }
        catch (EndOfStreamException e) { throw new DataConfigException($"'{nameForErrors}' is truncated.", e); }
        catch (InvalidDataException e) { throw new DataConfigException($"'{nameForErrors}' is not valid gzip data.", e); }
        finally { if (!ReferenceEquals(s, stream)) s.Dispose(); }
    }
}
