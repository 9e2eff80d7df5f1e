using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Distributed.Launch;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

/// <summary>Turns the errors a user can cause into one clear message and an exit code; anything else is a bug and keeps its stack trace.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (ConfigException e) { return Fail(e.Message, 2); }
        catch (DataConfigException e) { return Fail($"data: {e.Message}", 2); }
        catch (LaunchException e) { return Fail($"launch: {e.Message}", 2); }
        catch (DeviceUnavailableException e) { return Fail(e.Message, 3); }
        catch (TrainingDivergedException e) { return Fail(e.Message, 4); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            return Fail(e.Message, 1);
        }
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"semppl: {message}");
        return code;
    }
}
