using SemPPL.Config;
using SemPPL.Data.Datasets;
using SemPPL.Distributed;
using SemPPL.Distributed.Launch;
using SemPPL.Trainer.DataParallel;
using SemPPL.Trainer.Runtime;
using SemPPL.Trainer.Training;

namespace SemPPL.Cli;

/// <summary>
/// The one place that turns a failure into one `semppl: ...` line and an exit code (README, "Command line"). Every
/// verb runs through <see cref="Run"/>. An exception no case expects is a bug: it is reported on one line as an
/// internal error (exit 70), with the stack trace only when SEMPPL_DEBUG=1.
/// </summary>
internal static class CliErrors
{
    public const int FileError = 1;
    public const int InvalidInput = 2;
    public const int DeviceUnavailable = 3;
    public const int Diverged = 4;
    public const int FolderInUse = 5;
    public const int Interrupted = 6;
    public const int JobFailed = 7;
    public const int InternalError = 70;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (ConfigException e) { return Fail(e.Message, InvalidInput); }
        catch (DataConfigException e) { return Fail($"data: {e.Message}", InvalidInput); }
        catch (LaunchException e) { return Fail($"launch: {e.Message}", InvalidInput); }
        catch (RunFolderConflictException e) { return Fail(e.Message, InvalidInput); }
        catch (DeviceUnavailableException e) { return Fail(e.Message, DeviceUnavailable); }
        catch (TrainingDivergedException e) { return Fail(e.Message, Diverged); }
        catch (RunFolderInUseException e) { return Fail(e.Message, FolderInUse); }
        catch (CommunicatorException e) { return Fail(e.Message, JobFailed); }
        catch (JobStoppedException e) { return Fail(e.Message, JobFailed); }
        catch (JobMismatchException e) { return Fail(e.Message, JobFailed); }
        // Missing, unreadable or corrupt files, a full disk, a folder that cannot be written: .NET's messages name the path.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return Fail(e.Message, FileError);
        }
        catch (Exception e)
        {
            bool debug = Environment.GetEnvironmentVariable("SEMPPL_DEBUG") == "1";
            Fail($"internal error (a bug; please report it with this line{(debug ? " and the trace below" : "; SEMPPL_DEBUG=1 adds the stack trace")}): " +
                 $"{e.GetType().Name}: {OneLine(e.Message)}", InternalError);
            if (debug) Console.Error.WriteLine(e);
            return InternalError;
        }
    }

    /// <summary>Writes `semppl: message` to standard error and returns the exit code.</summary>
    public static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"semppl: {message}");
        return code;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
