using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace SemPPL.Trainer.Prediction;

/// <summary>
/// Writes a float32 matrix [rows, columns] in NumPy's .npy format (version 1.0: magic, header length, a Python dict
/// literal padded to 64 bytes, then little-endian C-order data), streaming rows whose count is known only at the
/// end: the header is written again on <see cref="Complete"/>, and the file appears (renamed from a temp file) only then.
/// </summary>
public sealed class NpyWriter : IDisposable
{
    private const int HeaderBytes = 128;   // room for shape (2^63, 2^63)
    private readonly FileStream _stream;
    private readonly string _path, _temp;
    private readonly int _columns;
    private long _rows;
    private bool _done;

    public NpyWriter(string path, int columns)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NpyWriter writes little-endian hosts' floats as they are");
        _path = Path.GetFullPath(path);
        _columns = columns;
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _temp = _path + ".tmp";
        _stream = new FileStream(_temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        _stream.Write(Header(0, columns));
    }

    public long Rows => _rows;

    public void Append(ReadOnlySpan<float> row)
    {
        if (row.Length != _columns) throw new ArgumentException($"row of {row.Length} values, the matrix has {_columns} columns");
        _stream.Write(MemoryMarshal.AsBytes(row));
        _rows++;
    }

    public void Complete()
    {
        _stream.Position = 0;
        _stream.Write(Header(_rows, _columns));
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _done = true;
    }

    public static byte[] Header(long rows, int columns)
    {
        string dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        var b = new byte[HeaderBytes];
        b[0] = 0x93;
        "NUMPY"u8.CopyTo(b.AsSpan(1));
        b[6] = 1; b[7] = 0;
        int len = HeaderBytes - 10;
        b[8] = (byte)(len & 0xFF); b[9] = (byte)(len >> 8);
        var text = Encoding.ASCII.GetBytes(dict.PadRight(len - 1) + "\n");
        text.CopyTo(b, 10);
        return b;
    }

    public void Dispose()
    {
        if (_done) return;
        _stream.Dispose();
        try { File.Delete(_temp); } catch (IOException) { }
    }
}
