using System.Globalization;
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;

namespace SemPPL.Benchmarks.Distributed;

/// <summary>
/// <c>checkpoint-diff A B</c>: compares two checkpoints tensor by tensor, bit for bit (the header's metadata is shown
/// where it differs but does not decide). A and B are checkpoint files or run folders (then their latest checkpoint).
/// Prints, per tensor, the elements that differ and the largest absolute and relative difference; exit code 0 when
/// every tensor is bit-identical, 1 when one differs or is missing, 2 on bad arguments or an unreadable file.
/// For the GPU check's "a distributed run of one rank is the plain run" (scripts/gpu/check-cuda.sh, section nccl).
/// </summary>
public static class CheckpointDiff
{
    public static int Run(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: checkpoint-diff <checkpoint file or run folder> <checkpoint file or run folder>");
            return 2;
        }
        TensorFileContents a, b;
        try
        {
            (a, b) = (Load(args[0]), Load(args[1]));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        Console.WriteLine($"A {a.Path}\nB {b.Path}");
        foreach (var key in a.Metadata.Keys.Union(b.Metadata.Keys).Order(StringComparer.Ordinal))
        {
            string? va = a.Metadata.GetValueOrDefault(key), vb = b.Metadata.GetValueOrDefault(key);
            if (va != vb) Console.WriteLine($"metadata {key}: A {va ?? "(none)"}, B {vb ?? "(none)"}");
        }
        var inB = b.Tensors.ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
        int differ = 0;
        foreach (var (name, ta) in a.Tensors)
        {
            if (!inB.Remove(name, out var tb))
            {
                Console.WriteLine($"{name}: only in A");
                differ++;
                continue;
            }
            string line = Compare(ta, tb, out bool same);
            Console.WriteLine($"{name}: {line}");
            if (!same) differ++;
        }
        foreach (var name in inB.Keys)
        {
            Console.WriteLine($"{name}: only in B");
            differ++;
        }
        int total = a.Tensors.Count + inB.Count;
        Console.WriteLine(differ == 0 ? $"identical: all {total} tensors bit for bit" : $"DIFFERENT: {differ} of {total} tensors");
        return differ == 0 ? 0 : 1;
    }

    private static TensorFileContents Load(string path)
    {
        if (File.Exists(path)) return TensorFile.Read(path);
        if (!Directory.Exists(path)) throw new IOException($"'{path}' is neither a checkpoint file nor a run folder");
        var latest = new CheckpointStore(path, warn: Console.Error.WriteLine).List().LastOrDefault();
        if (latest.Path is null) throw new IOException($"run folder '{path}' has no checkpoint in {CheckpointStore.FolderName}/");
        return TensorFile.Read(latest.Path);
    }

    /// <summary>One line: identical, or how many elements differ and by how much; <paramref name="same"/> when bit-identical.</summary>
    public static string Compare(HostTensor a, HostTensor b, out bool same)
    {
        same = false;
        if (a.Type != b.Type || !a.Shape.SequenceEqual(b.Shape))
            return $"DIFFERENT type or shape: A {a.Type} [{string.Join(",", a.Shape)}], B {b.Type} [{string.Join(",", b.Shape)}]";
        long count = 0;
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < a.ElementCount; i++)
        {
            var (x, y, bitsEqual) = At(a, b, i);
            if (bitsEqual) continue;
            count++;
            double d = Math.Abs(x - y), scale = Math.Max(Math.Abs(x), Math.Abs(y));
            if (double.IsNaN(d)) (maxAbs, maxRel) = (double.NaN, double.NaN);
            else if (!double.IsNaN(maxAbs))
            {
                maxAbs = Math.Max(maxAbs, d);
                maxRel = Math.Max(maxRel, scale > 0 ? d / scale : 0);
            }
        }
        same = count == 0;
        return same
            ? $"identical ({a.ElementCount} {a.Type})"
            : string.Create(CultureInfo.InvariantCulture, $"DIFFERENT in {count} of {a.ElementCount} elements: max abs {maxAbs:G4}, max rel {maxRel:G4}");
    }

    private static (double A, double B, bool BitsEqual) At(HostTensor a, HostTensor b, int i) => a.Type switch
    {
        DType.Float => (a.Floats[i], b.Floats[i], BitConverter.SingleToInt32Bits(a.Floats[i]) == BitConverter.SingleToInt32Bits(b.Floats[i])),
        DType.Double => (a.Doubles[i], b.Doubles[i], BitConverter.DoubleToInt64Bits(a.Doubles[i]) == BitConverter.DoubleToInt64Bits(b.Doubles[i])),
        DType.Int64 => (a.Longs[i], b.Longs[i], a.Longs[i] == b.Longs[i]),
        DType.Int32 => (a.Ints[i], b.Ints[i], a.Ints[i] == b.Ints[i]),
        DType.Bool => (a.Bools[i] ? 1 : 0, b.Bools[i] ? 1 : 0, a.Bools[i] == b.Bools[i]),
        _ => throw new InvalidDataException($"checkpoint-diff does not compare {a.Type} tensors"),
    };
}
