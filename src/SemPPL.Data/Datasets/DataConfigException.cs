namespace SemPPL.Data.Datasets;

/// <summary>A data-set or split configuration problem detected before training starts.</summary>
public sealed class DataConfigException(string message, Exception? inner = null) : Exception(message, inner);
