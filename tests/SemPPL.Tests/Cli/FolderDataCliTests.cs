using SemPPL.Tests.TestConfigs;
using SemPPL.Tests.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SemPPL.Tests.Cli;

/// <summary>A folder data set with a file the process may not read: the file is skipped and counted, the run goes on.</summary>
[Collection(TinyRunCollection.Name)]
public sealed class FolderDataCliTests : IDisposable
{
    private readonly TempRun _run = new("cli-folder");
    private readonly string _data = Directory.CreateTempSubdirectory("semppl-folder-data-").FullName;

    public void Dispose()
    {
        _run.Dispose();
        Directory.Delete(_data, true);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes are Unix's
    public void An_unreadable_image_is_skipped_with_a_warning_and_counted()
    {
        for (int c = 0; c < 2; c++)
        {
            Directory.CreateDirectory(Path.Combine(_data, $"class{c}"));
            for (int i = 0; i < 12; i++)
            {
                using var img = new Image<L8>(28, 28);
                for (int y = 0; y < 28; y++)
                    for (int x = 0; x < 28; x++) img[x, y] = new L8((byte)((x * (c + 1) + y * i) * 7));
                img.SaveAsPng(Path.Combine(_data, $"class{c}", $"img{i:D2}.png"));
            }
        }
        string secret = Path.Combine(_data, "class0", "secret.png");
        File.Copy(Path.Combine(_data, "class0", "img00.png"), secret);
        File.SetUnixFileMode(secret, UnixFileMode.None);
        string yaml = TinyConfig.Yaml
            .Replace("dataset: fashion-mnist-embedded", $"dataset: folder\n  path: {_data}")
            .Replace("labels_per_class: 4", "labels_per_class: 2")
            .Replace("max_train_images: 2000", "max_train_images: 0")
            .Replace("num_classes: 10", "num_classes: 2")
            .Replace("queue_capacity: 100", "queue_capacity: auto");

        // As root every file is readable: run the CLI without the capabilities that allow that.
        using var p = SempplProcess.Start(["train", "--config", _run.WriteConfig(yaml), "--out", _run.Root, "--no-eval", "--steps", "1",
                                           "--set", "training.warmup_steps=0"],
                                          SempplProcess.IgnoresFileModes() ? SempplProcess.WithoutFileOverride : null);
        var (code, stdout, stderr) = p.WaitForExit(TimeSpan.FromMinutes(2));

        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Contains($"warning: skipping image '{secret}'", stdout);
        Assert.Contains("data: 1 file(s) skipped", stdout);
        Assert.Contains("denied", stdout);   // skipped because it could not be read, not for its content
    }
}
