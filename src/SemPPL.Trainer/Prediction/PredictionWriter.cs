using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SemPPL.Trainer.Prediction;

/// <summary>
/// Writes predictions as they come: CSV (<c>path,class_1,probability_1,...</c>; to a file or standard output) or
/// JSON (an array of <c>{"path", "top": [{"class", "index", "probability"}]}</c>), chosen by the file's extension.
/// A file is written under a temporary name and renamed by <see cref="Complete"/>.
/// </summary>
public sealed class PredictionWriter : IDisposable
{
    private readonly TextWriter? _text;
    private readonly Utf8JsonWriter? _json;
    private readonly FileStream? _file;
    private readonly string? _path, _temp;
    private readonly int _topK;
    private bool _done;

    /// <param name="path">A .csv or .json file, or null for CSV on standard output.</param>
    public PredictionWriter(string? path, int topK, bool withClasses)
    {
        _topK = withClasses ? topK : 0;
        if (path is not null)
        {
            string ext = Path.GetExtension(path).ToLowerInvariant();
            if (ext is not (".csv" or ".json")) throw new ArgumentException($"--out '{path}': give a .csv or .json file");
            _path = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            _temp = _path + ".tmp";
            _file = new FileStream(_temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            if (ext == ".json")
            {
                _json = new Utf8JsonWriter(_file, new JsonWriterOptions { Indented = false });
                _json.WriteStartArray();
                return;
            }
            _text = new StreamWriter(_file, new UTF8Encoding(false));
        }
        else _text = Console.Out;
        var header = new StringBuilder("path");
        for (int i = 1; i <= _topK; i++) header.Append(CultureInfo.InvariantCulture, $",class_{i},probability_{i}");
        _text.WriteLine(header);
    }

    public void Write(Prediction p)
    {
        if (_json is not null)
        {
            _json.WriteStartObject();
            _json.WriteString("path", p.Path);
            _json.WriteStartArray("top");
            foreach (var (index, name, probability) in p.Top)
            {
                _json.WriteStartObject();
                _json.WriteString("class", name);
                _json.WriteNumber("index", index);
                _json.WriteNumber("probability", probability);
                _json.WriteEndObject();
            }
            _json.WriteEndArray();
            _json.WriteEndObject();
            return;
        }
        var line = new StringBuilder(Csv(p.Path));
        foreach (var (_, name, probability) in p.Top) line.Append(',').Append(Csv(name)).Append(',').Append(probability.ToString("0.######", CultureInfo.InvariantCulture));
        _text!.WriteLine(line);
    }

    public void Complete()
    {
        if (_json is not null) { _json.WriteEndArray(); _json.Flush(); }
        _text?.Flush();
        _done = true;
        if (_file is null) return;
        _file.Flush(flushToDisk: true);
        _json?.Dispose();
        _text?.Dispose();
        _file.Dispose();
        File.Move(_temp!, _path!, overwrite: true);
    }

    private static string Csv(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    public void Dispose()
    {
        if (_file is null || _done) return;
        _json?.Dispose();
        _text?.Dispose();
        _file.Dispose();
        try { File.Delete(_temp!); } catch (IOException) { }
    }
}
