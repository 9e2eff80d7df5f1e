using System.IO.Compression;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SemPPL.Data.Tests;

/// <summary>Tiny generated inputs in a temp folder, removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("semppl-data-").FullName;
    public string Sub(params string[] parts) { var p = System.IO.Path.Combine([Path, .. parts]); Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!); return p; }
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}

public static class TestData
{
    public static byte[] Idx(byte[] payload, params int[] dims)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, 0x08, (byte)dims.Length]);
        foreach (var d in dims) ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        ms.Write(payload);
        return ms.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Writes n 4x4 grey IDX images (pixel = image index*10 + pixel) with labels i % classes.</summary>
    public static void WriteIdxPair(string dir, string prefix, int n, int classes, bool gz)
    {
        var img = new byte[n * 16]; var lab = new byte[n];
        for (int i = 0; i < n; i++) { lab[i] = (byte)(i % classes); for (int p = 0; p < 16; p++) img[i * 16 + p] = (byte)(i * 10 + p); }
        var ib = Idx(img, n, 4, 4); var lb = Idx(lab, n);
        string ext = gz ? ".gz" : "";
        File.WriteAllBytes(System.IO.Path.Combine(dir, $"{prefix}-images-idx3-ubyte{ext}"), gz ? Gzip(ib) : ib);
        File.WriteAllBytes(System.IO.Path.Combine(dir, $"{prefix}-labels-idx1-ubyte{ext}"), gz ? Gzip(lb) : lb);
    }

    public static Image<Rgb24> Pattern(int w, int h, int seed)
    {
        var img = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img[x, y] = new Rgb24((byte)(x * 7 + seed * 31), (byte)(y * 5 + seed * 17), (byte)((x + y) * 3 + seed));
        return img;
    }

    /// <summary>A class-folder tree with images per class in several formats.</summary>
    public static void WriteFolder(string root, int classes, int perClass, int size = 16)
    {
        for (int c = 0; c < classes; c++)
            for (int i = 0; i < perClass; i++)
            {
                string dir = System.IO.Path.Combine(root, $"class{c}", i % 2 == 0 ? "" : "deeper");
                Directory.CreateDirectory(dir);
                using var img = Pattern(size, size, c * 100 + i);
                string file = System.IO.Path.Combine(dir, $"c{c}_{i}");
                switch (i % 3)
                {
                    case 0: img.SaveAsPng(file + ".png"); break;
                    case 1: img.SaveAsJpeg(file + ".jpg"); break;
                    default: img.SaveAsBmp(file + ".bmp"); break;
                }
            }
    }
}
