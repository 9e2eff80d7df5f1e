namespace SemPPL.Config;

/// <summary>
/// A configuration could not be loaded or is invalid. <see cref="Problems"/> lists every problem found
/// (not only the first), each naming the key path (e.g. <c>training.batch_unlabelled</c>), the offending
/// value and what is allowed.
/// </summary>
public sealed class ConfigException : Exception
{
    public IReadOnlyList<string> Problems { get; }

    public ConfigException(IReadOnlyList<string> problems, string? source = null)
        : base(FormatMessage(problems, source))
    {
        Problems = problems;
    }

    public ConfigException(string problem, string? source = null) : this(new[] { problem }, source) { }

    private static string FormatMessage(IReadOnlyList<string> problems, string? source)
    {
        var head = source is null ? "Invalid configuration" : $"Invalid configuration '{source}'";
        if (problems.Count == 1) return $"{head}: {problems[0]}";
        return $"{head}: {problems.Count} problems:" + string.Concat(problems.Select(p => "\n  - " + p));
    }
}
