using System.Text.Json;
using System.Text.Json.Nodes;
using SemPPL.Tests.Reference;

namespace SemPPL.Benchmarks.Cuda;

/// <summary>
/// The PyTorch side of cuda-profile: tests/reference/cuda_profile_torch.py run once on the same shapes (a JSON spec
/// written here), its medians read back per section. Missing PyTorch or a failed script leaves every column empty
/// with one line saying why; our side runs regardless.
/// </summary>
public sealed class TorchSide
{
    private readonly JsonElement? _result;

    private TorchSide(JsonElement? result, string status) { _result = result; Status = status; }

    /// <summary>"torch 2.11 cuda 13.0 cudnn 91900", or why there is no PyTorch column.</summary>
    public string Status { get; }

    public static TorchSide Run(JsonObject spec, int timeoutMs)
    {
        if (ReferenceHarness.TorchUnavailableReason() is { } why) return new(null, $"no PyTorch column: {why}");
        string specPath = Path.Combine(Path.GetTempPath(), $"semppl-cuda-profile-{Environment.ProcessId}.json");
        File.WriteAllText(specPath, spec.ToJsonString());
        try
        {
            string script = Path.Combine(ReferenceHarness.RepoRoot(), "tests", "reference", "cuda_profile_torch.py");
            var r = ReferenceHarness.RunProcess(ReferenceHarness.Python, [script, specPath], null, timeoutMs);
            foreach (var line in r.Stderr.Split('\n').Where(l => l.StartsWith("torch side:", StringComparison.Ordinal)))
                Console.WriteLine($"  ({line.Trim()})");
            if (r.ExitCode != 0)
                return new(null, $"no PyTorch column: the script failed (exit {r.ExitCode}): {r.Stderr.Trim().Split('\n').LastOrDefault()}");
            var json = JsonDocument.Parse(r.Stdout.Trim().Split('\n').Last()).RootElement.Clone();
            return new(json, $"PyTorch {json.GetProperty("torch").GetString()}, CUDA {Str(json, "cuda")}, cuDNN {Str(json, "cudnn")} (TF32, cudnn.benchmark)");
        }
        catch (Exception e) when (e is TimeoutException or JsonException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return new(null, $"no PyTorch column: {e.Message}");
        }
        finally { File.Delete(specPath); }
    }

    /// <summary>The median ms of case <paramref name="index"/> of <paramref name="key"/>, or null.</summary>
    public double? Ms(string key, int index) =>
        _result is { } r && r.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array && index < list.GetArrayLength()
            && list[index].ValueKind == JsonValueKind.Number ? list[index].GetDouble() : null;

    public double? Upload(string kind) =>
        _result is { } r && r.TryGetProperty("upload", out var u) && u.ValueKind == JsonValueKind.Object
            && u.TryGetProperty(kind, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    public static string Column(double? ms) => ms is { } v ? $"{v,8:F3} ms" : "       -   ";

    private static string Str(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : "n/a";
}
