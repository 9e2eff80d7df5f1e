using SemPPL.Tests.TestConfigs;

namespace SemPPL.Tests.Cli;

/// <summary>
/// Every verb, fed bad input of every kind, answers with a `semppl: ...` message (a config's list of problems
/// continues on "  - " lines) and a non-zero exit code that is not the internal-error code: no stack trace, no
/// unhandled exception.
/// </summary>
public sealed class CliSweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("semppl-sweep-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string File_(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Every_verb_answers_bad_input_with_a_handled_message()
    {
        string tiny = File_("tiny.yaml", TinyConfig.Yaml);
        string empty = File_("empty.yaml", "");
        string syntax = File_("syntax.yaml", "training:\n  steps: [1, 2\n");
        string duplicate = File_("duplicate.yaml", "seed: 1\nseed: 2\n");
        string problems = File_("problems.yaml", "seed: x\ndevice: gpu\ntraining:\n  stepz: 3\n");
        string notRun = Directory.CreateDirectory(Path.Combine(_dir, "not-a-run")).FullName;
        string garbageRun = Path.GetDirectoryName(File_("garbage-run/config.yaml", "model: [\n"))!;
        string aFile = File_("a-file", "x");
        string missing = Path.Combine(_dir, "missing");
        string[][] cases =
        [
            [],
            ["bogus"],
            ["train"],
            ["train", "--config", missing],
            ["train", "--config", _dir],
            ["train", "--config", empty],
            ["train", "--config", syntax],
            ["train", "--config", syntax, "--set", "seed=1"],
            ["train", "--config", duplicate, "--set", "seed=1"],
            ["train", "--config", problems],
            ["train", "--config", tiny, "--steps", "abc"],
            ["train", "--config", tiny, "--steps", "0"],
            ["train", "--config", tiny, "--set", "seed"],
            ["train", "--config", tiny, "--set", "training.zz=1"],
            ["train", "--config", tiny, "--set", "seed=[1"],
            ["train", "--config", tiny, "--set", "name.x=1"],
            ["train", "--config", tiny, "--device", "gpu"],
            ["train", "--config", tiny, "--set", "data.dataset=idx", "--set", $"data.path={missing}"],
            ["train", "--config", tiny, "--out", Path.Combine(aFile, "run")],
            ["train", "--config", tiny, "--no-such-option"],
            ["eval"],
            ["eval", "--run", missing],
            ["eval", "--run", aFile],
            ["eval", "--run", notRun],
            ["eval", "--run", garbageRun],
            ["eval", "--run", notRun, "--set", "seed=1"],
            ["export", "--run", notRun],
            ["export", "--run", missing, "--out", Path.Combine(_dir, "m.onnx")],
            ["export", "--run", garbageRun, "--out", Path.Combine(_dir, "m.onnx")],
            ["predict"],
            ["predict", "--model", missing, aFile],
            ["predict", "--model", aFile, aFile],
            ["predict", "--model", aFile, "--top", "x", aFile],
            ["predict", "--model", aFile, "--batch", "0", aFile],
            ["baseline"],
            ["baseline", "--config", missing],
            ["baseline", "--config", tiny, "--steps", "-3"],
            ["baseline", "--config", empty],
            ["baseline", "--config", problems, "--set", "x=1"],
        ];
        var failures = new List<string>();
        foreach (var args in cases)
        {
            var (code, _, stderr) = SempplProcess.Run(args);
            var lines = stderr.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            string shown = $"semppl {string.Join(' ', args)} -> exit {code}: {stderr.TrimEnd()}";
            if (code is 0 or 70 || !lines[0].StartsWith("semppl: ", StringComparison.Ordinal) || lines.Skip(1).Any(l => !l.StartsWith("  - ", StringComparison.Ordinal))
                || stderr.Contains("Unhandled exception") || stderr.Contains("   at ") || stderr.Contains("System."))   // no stack, no .NET type names
                failures.Add(shown);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Length} bad inputs were not handled:\n" + string.Join("\n", failures));
    }
}
