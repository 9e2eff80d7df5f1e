using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace SemPPL.Config;

/// <summary>
/// Reads and writes <see cref="SemPPLConfig"/> as YAML (YamlDotNet; snake_case keys by the underscored
/// naming convention). Loading is strict: an unknown key is an error that names the key path and suggests
/// the nearest valid key; a value of the wrong type is an error naming the key, the value and the expected
/// type. All such problems of a file are reported together in one <see cref="ConfigException"/>.
/// Loading does not validate ranges: call <see cref="ConfigValidator.Validate"/> (or use
/// <see cref="LoadValidated"/>).
/// </summary>
/// <remarks>
/// Label-split rule: <c>data.labels_per_class</c> defaults to 10 only when the YAML sets neither
/// <c>data.label_fraction</c> nor <c>data.label_file</c>; if one of those is given and
/// <c>labels_per_class</c> is absent, the loader sets it to null. Setting two of them explicitly is a
/// validation error. A leading <c>~</c> in data.path, data.test_path, data.label_file and an
/// <c>onnx:</c> backbone path is expanded to the home directory.
/// </remarks>
public static class ConfigLoader
{
    /// <summary>Loads a YAML file (keys not given keep their defaults). Does not validate ranges.</summary>
    public static SemPPLConfig Load(string path) => Load(path, []);

    /// <summary>
    /// Loads a YAML file with command-line overrides (`--set section.key=value`, <see cref="ConfigOverrides"/>) applied
    /// before binding, so they go through the same checks; problems name the file's line or the override they come from.
    /// A file without any key is refused: it would silently run every default (the ImageNet-scale setting).
    /// </summary>
    public static SemPPLConfig Load(string path, IReadOnlyList<string> overrides)
    {
        var stream = Parse(ReadFile(path), path);
        if (stream.Documents.Count == 0 || IsNull(stream.Documents[0].RootNode))
            throw new ConfigException("the file has no keys, so every key would take its default (the ImageNet-scale setting of docs/config.md); " +
                                      "start from one of configs/*.yaml, e.g. configs/quickstart.yaml", path);
        return Bind(stream, path, overrides);
    }

    /// <summary>The text of a config file; a missing file, a folder or an unreadable file is a <see cref="ConfigException"/> naming it.</summary>
    public static string ReadFile(string path)
    {
        if (Directory.Exists(path)) throw new ConfigException("this is a folder, not a config file; give a .yaml file such as configs/quickstart.yaml", path);
        if (!File.Exists(path)) throw new ConfigException("the config file does not exist", path);
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read the config file: {e.Message}", path);
        }
    }

    /// <summary>Loads a YAML file, then validates it (<see cref="ConfigValidator.Validate"/>), and, when
    /// <paramref name="checkPaths"/> is true, checks that its files exist (<see cref="ConfigValidator.CheckPaths"/>).</summary>
    public static SemPPLConfig LoadValidated(string path, bool checkPaths = false)
    {
        var config = Load(path);
        ConfigValidator.Validate(config, path);
        if (checkPaths) ConfigValidator.CheckPaths(config, path);
        return config;
    }

    /// <summary>Parses YAML text. <paramref name="source"/> only names the text in error messages.</summary>
    public static SemPPLConfig FromYaml(string yaml, string? source = null) => Bind(Parse(yaml, source), source, []);

    /// <summary>The YAML document tree of a config text; syntax errors and duplicate keys are a <see cref="ConfigException"/>.</summary>
    internal static YamlStream Parse(string yaml, string? source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e)
        {
            throw new ConfigException($"YAML syntax error at line {e.Start.Line}, column {e.Start.Column}: {Inner(e).Message}", source);
        }
        return stream;
    }

    /// <summary>
    /// Binds the first document (after applying <paramref name="overrides"/>). When a key cannot be bound, the
    /// range and rule checks of <see cref="ConfigValidator"/> run on the rest, so one message lists every problem.
    /// </summary>
    private static SemPPLConfig Bind(YamlStream stream, string? source, IReadOnlyList<string> overrides)
    {
        var config = new SemPPLConfig();
        var binder = new Binder();
        if (stream.Documents.Count == 0) stream.Documents.Add(new YamlDocument(new YamlMappingNode()));
        if (stream.Documents.Count > 1)
            binder.Problems.Add("the file holds several YAML documents; a config is one document");
        var root = stream.Documents[0].RootNode;
        if (IsNull(root) && overrides.Count > 0) root = new YamlMappingNode();
        if (overrides.Count > 0)
        {
            if (root is not YamlMappingNode m) throw new ConfigException("--set: the config's top level is not a mapping", source);
            ConfigOverrides.ApplyTo(m, overrides, binder.Origins);
        }
        if (IsNull(root)) { /* empty document: all defaults */ }
        else if (root is YamlMappingNode map) binder.BindSection(map, config, "");
        else binder.Problems.Add($"the top level must be a mapping of keys (name, seed, device, data, augment, model, objective, optimizer, training, eval) (line {root.Start.Line})");
        if (binder.Problems.Count > 0)
        {
            // Keys that failed to bind kept their defaults: leave out the rule problems that name them.
            var failed = binder.FailedKeys;
            var others = ConfigValidator.Problems(config).Where(p =>
            {
                var path = p.Split(':')[0];
                return !failed.Any(f => path == f || path.StartsWith(f + ".", StringComparison.Ordinal));
            });
            throw new ConfigException([.. binder.Problems, .. others], source);
        }
        ConfigPaths.ExpandHomeInPlace(config);
        return config;
    }

    /// <summary>Writes the config to a YAML file (every key, nulls included); <see cref="Load"/> reads it back to an equal config.</summary>
    public static void Save(SemPPLConfig config, string path)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(path, ToYaml(config));
    }

    /// <summary>The YAML text <see cref="Save"/> writes.</summary>
    public static string ToYaml(SemPPLConfig config)
    {
        var sw = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(sw, bestIndent: 2);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        EmitSection(emitter, config);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return sw.ToString();
    }

    // ---------------------------------------------------------------- loading

    private static Exception Inner(Exception e) => e.InnerException is null ? e : Inner(e.InnerException);

    /// <summary>Binds YAML nodes to config sections, collecting every problem; a node an override made is cited by its `--set`.</summary>
    private sealed class Binder
    {
        public List<string> Problems { get; } = [];
        /// <summary>Key paths whose value could not be bound (they keep their defaults).</summary>
        public HashSet<string> FailedKeys { get; } = new(StringComparer.Ordinal);
        /// <summary>Nodes made by `--set` overrides, with the assignment that made each.</summary>
        public Dictionary<YamlNode, string> Origins { get; } = new(ReferenceEqualityComparer.Instance);

        private string At(YamlNode node) => Origins.TryGetValue(node, out var set) ? $"(--set {set})" : $"(line {node.Start.Line})";

        public void BindSection(YamlMappingNode map, object target, string prefix)
        {
            var keys = ConfigSchema.KeysOf(target.GetType(), prefix);
            var seen = new HashSet<string>();
            foreach (var (kNode, vNode) in map.Children)
            {
                var keyText = (kNode as YamlScalarNode)?.Value ?? kNode.ToString();
                var keyPath = prefix.Length == 0 ? keyText : prefix + "." + keyText;
                var key = keys.FirstOrDefault(k => k.Key == keyText);
                if (key is null)
                {
                    var suggestion = ConfigSchema.Suggest(keyText, keys.Select(k => k.Key), prefix);
                    var hint = suggestion is null ? $"valid keys here: {string.Join(", ", keys.Select(k => k.Key))}"
                        : suggestion.Contains('.') ? $"did you mean '{suggestion}'?" : $"did you mean '{(prefix.Length == 0 ? "" : prefix + ".")}{suggestion}'?";
                    Problems.Add($"{keyPath}: unknown key {At(kNode)}; {hint}");
                    continue;
                }
                if (!seen.Add(key.Key)) { Problems.Add($"{keyPath}: key given twice {At(kNode)}"); continue; }
                BindValue(key, vNode, target);
            }

            // Label-split rule (see class remarks).
            if (target is DataConfig data)
            {
                bool has(string k) => map.Children.Keys.OfType<YamlScalarNode>().Any(n => n.Value == k);
                if (!has("labels_per_class") && (has("label_fraction") || has("label_file")))
                    data.LabelsPerClass = null;
            }
        }

        private void BindValue(ConfigKey key, YamlNode node, object target)
        {
            var where = At(node);
            void Fail(string problem) { Problems.Add(problem); FailedKeys.Add(key.Path); }
            if (key.Kind == ConfigValueKind.Section)
            {
                var section = key.Property.GetValue(target) ?? Activator.CreateInstance(key.Property.PropertyType)!;
                if (IsNull(node)) return; // "data:" with everything commented out: keep defaults
                if (node is not YamlMappingNode m) { Fail($"{key.Path}: expected {key.ExpectedType}, got {Show(node)} {where}"); return; }
                BindSection(m, section, key.Path);
                key.Property.SetValue(target, section);
                return;
            }
            if (IsNull(node))
            {
                if (key.Nullable) key.Property.SetValue(target, null);
                else Fail($"{key.Path}: null is not allowed; expected {key.ExpectedType} {where}");
                return;
            }
            if (key.Kind == ConfigValueKind.NumberList)
            {
                if (node is not YamlSequenceNode seq) { Fail($"{key.Path}: expected {key.ExpectedType}, got {Show(node)} {where}"); return; }
                var values = new List<double>();
                foreach (var item in seq.Children)
                {
                    if (item is YamlScalarNode s && TryNumber(s.Value, out var v)) values.Add(v);
                    else { Fail($"{key.Path}: expected {key.ExpectedType}, got {Show(node)} ({Show(item)} is not a finite number) {where}"); return; }
                }
                key.Property.SetValue(target, values.ToArray());
                return;
            }
            if (node is not YamlScalarNode scalar) { Fail($"{key.Path}: expected {key.ExpectedType}, got {Show(node)} {where}"); return; }
            var text = scalar.Value ?? "";
            var type = Nullable.GetUnderlyingType(key.Property.PropertyType) ?? key.Property.PropertyType;
            object? value = null;
            bool ok;
            switch (key.Kind)
            {
                case ConfigValueKind.Integer:
                    if (type == typeof(long)) { ok = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l); value = l; }
                    else { ok = int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i); value = i; }
                    break;
                case ConfigValueKind.Number:
                    ok = TryNumber(text, out var d); value = d;
                    break;
                case ConfigValueKind.Boolean:
                    ok = text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE";
                    value = ok && text.Equals("true", StringComparison.OrdinalIgnoreCase);
                    break;
                default:
                    ok = true; value = text;
                    break;
            }
            if (!ok) { Fail($"{key.Path}: expected {key.ExpectedType}, got '{text}' {where}"); return; }
            key.Property.SetValue(target, value);
        }
    }

    private static bool TryNumber(string? text, out double value)
    {
        if (text is null) { value = 0; return false; }
        var ok = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        return ok && double.IsFinite(value);
    }

    internal static bool IsNull(YamlNode node) =>
        node is YamlScalarNode s && s.Style is ScalarStyle.Plain or ScalarStyle.Any
        && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");

    private static string Show(YamlNode node) => node switch
    {
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode q => "a list [" + string.Join(", ", q.Children.Select(c => c is YamlScalarNode s ? s.Value : "...")) + "]",
        YamlMappingNode => "a mapping",
        _ => node.ToString(),
    };

    // ---------------------------------------------------------------- saving

    private static void EmitSection(IEmitter emitter, object section)
    {
        emitter.Emit(new MappingStart(null, null, true, MappingStyle.Block));
        foreach (var key in ConfigSchema.KeysOf(section.GetType()))
        {
            emitter.Emit(new Scalar(key.Key));
            var value = key.Property.GetValue(section);
            switch (key.Kind)
            {
                case ConfigValueKind.Section:
                    EmitSection(emitter, value ?? Activator.CreateInstance(key.Property.PropertyType)!);
                    break;
                case ConfigValueKind.NumberList when value is double[] list:
                    emitter.Emit(new SequenceStart(null, null, true, SequenceStyle.Flow));
                    foreach (var v in list) emitter.Emit(new Scalar(FormatNumber(v)));
                    emitter.Emit(new SequenceEnd());
                    break;
                default:
                    EmitScalar(emitter, key, value);
                    break;
            }
        }
        emitter.Emit(new MappingEnd());
    }

    private static void EmitScalar(IEmitter emitter, ConfigKey key, object? value)
    {
        switch (value)
        {
            case null: emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false)); break;
            case bool b: emitter.Emit(new Scalar(b ? "true" : "false")); break;
            case double d: emitter.Emit(new Scalar(FormatNumber(d))); break;
            case float f: emitter.Emit(new Scalar(FormatNumber(f))); break;
            case int or long: emitter.Emit(new Scalar(Convert.ToString(value, CultureInfo.InvariantCulture)!)); break;
            case string s:
                var nullish = s is "" or "~" || s.Equals("null", StringComparison.OrdinalIgnoreCase);
                emitter.Emit(new Scalar(null, null, s, nullish ? ScalarStyle.DoubleQuoted : ScalarStyle.Any, true, true));
                break;
            default: throw new NotSupportedException(key.Path);
        }
    }

    /// <summary>Shortest round-tripping invariant form, with ".0" kept on whole numbers (1.0, not 1).</summary>
    internal static string FormatNumber(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains('e') ? s : s + ".0";
    }
}
