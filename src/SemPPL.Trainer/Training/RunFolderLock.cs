namespace SemPPL.Trainer.Training;

/// <summary>How a command uses a run folder.</summary>
public enum RunFolderAccess
{
    /// <summary>Writes the run (train, baseline, eval): no other semppl process may use the folder meanwhile.</summary>
    Exclusive,
    /// <summary>Only reads the run (export): other readers may too, a writer may not.</summary>
    Shared,
}

/// <summary>
/// An operating-system lock on a run folder's <see cref="RunFolder.LockFile"/>, held for as long as this object
/// lives (flock on Linux and macOS, a share mode on Windows). The kernel releases it when the process ends,
/// however it ends, so a lock file left behind by a killed process never blocks the next run.
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    // What .NET puts in HResult when the lock is held elsewhere: ERROR_SHARING_VIOLATION on Windows, flock's
    // EWOULDBLOCK errno on Linux (11) and macOS (35).
    private static bool IsHeldElsewhere(IOException e) => e.HResult is unchecked((int)0x80070020) or 11 or 35;
    private readonly FileStream _file;

    private RunFolderLock(FileStream file) => _file = file;

    /// <summary>Creates the folder when needed and takes the lock; throws <see cref="RunFolderInUseException"/> when another process holds it.</summary>
    public static RunFolderLock Acquire(RunFolder folder, RunFolderAccess access)
    {
        try { folder.Create(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot create the run folder {folder.Root}: {e.Message}", e);
        }
        try
        {
            var file = access == RunFolderAccess.Exclusive
                ? new FileStream(folder.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
                : new FileStream(folder.LockFile, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
            return new RunFolderLock(file);
        }
        catch (IOException e) when (IsHeldElsewhere(e))
        {
            throw new RunFolderInUseException(folder.Root);
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Another semppl process is using the run folder.</summary>
public sealed class RunFolderInUseException(string folder)
    : Exception($"{folder} is in use by another semppl process (train, baseline or eval; export may read it meanwhile); " +
                "wait for it to finish, or use another run folder")
{
    public string Folder { get; } = folder;
}

/// <summary>
/// The run folder's contents do not allow what was asked (a new run into a folder that holds one, a resume whose
/// checkpoints are unreadable or whose config changed in a way that breaks exactness). Nothing was written.
/// </summary>
public sealed class RunFolderConflictException(string message) : Exception(message);
