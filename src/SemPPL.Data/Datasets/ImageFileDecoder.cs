using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SemPPL.Data.Datasets;

/// <summary>
/// Decodes one image file (any format ImageSharp reads, found by content, not extension) into HWC bytes
/// with 1 (grey, L8) or 3 (RGB) channels. Shared by image-folder data sets and <c>semppl predict</c>.
/// </summary>
public static class ImageFileDecoder
{
    internal static readonly Configuration Config = CreateConfig();

    private static Configuration CreateConfig()
    {
        var c = Configuration.Default.Clone();
        c.PreferContiguousImageBuffers = true;   // lets us copy pixels out in one span
        return c;
    }

    /// <summary>
    /// Decodes <paramref name="file"/> into <paramref name="buffer"/> (grown when too small). Returns false with the
    /// reason in <paramref name="error"/> for an empty, unreadable, corrupt or truncated file, or one over
    /// <paramref name="maxPixels"/>; never throws for bad content.
    /// </summary>
    public static bool TryDecode(string file, int channels, long maxPixels, ref byte[] buffer, out int width, out int height, out string? error)
    {
        width = height = 0;
        try
        {
            if (new FileInfo(file).Length == 0) { error = "zero-byte file"; return false; }
            if (channels == 3)
            {
                using var img = Image.Load<Rgb24>(Config, file);
                if (!Fits(img.Width, img.Height, maxPixels, out error)) return false;
                width = img.Width; height = img.Height;
                int n = width * height * 3;
                if (buffer.Length < n) buffer = new byte[n];
                img.CopyPixelDataTo(MemoryMarshal.Cast<byte, Rgb24>(buffer.AsSpan(0, n)));
            }
            else
            {
                using var img = Image.Load<L8>(Config, file);
                if (!Fits(img.Width, img.Height, maxPixels, out error)) return false;
                width = img.Width; height = img.Height;
                int n = width * height;
                if (buffer.Length < n) buffer = new byte[n];
                img.CopyPixelDataTo(MemoryMarshal.Cast<byte, L8>(buffer.AsSpan(0, n)));
            }
            error = null;
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = "decode failed: " + e.Message;
            return false;
        }
    }

    private static bool Fits(int w, int h, long maxPixels, out string? error)
    {
        error = (long)w * h > maxPixels ? $"{w}x{h} exceeds the limit of {maxPixels} pixels" : null;
        return error is null;
    }
}
