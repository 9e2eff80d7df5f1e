using System.Reflection;
using YamlDotNet.Serialization.NamingConventions;

namespace SemPPL.Config;

/// <summary>The kind of value a leaf key holds.</summary>
public enum ConfigValueKind { Integer, Number, Boolean, String, NumberList, Section }

/// <summary>One key of the configuration (a section or a leaf).</summary>
/// <param name="Path">Dotted snake_case path, e.g. <c>training.batch_unlabelled</c>.</param>
/// <param name="Key">The last segment, e.g. <c>batch_unlabelled</c>.</param>
public sealed record ConfigKey(string Path, string Key, PropertyInfo Property, ConfigValueKind Kind, bool Nullable)
{
    /// <summary>Human description of the expected type, used in error messages.</summary>
    public string ExpectedType => Kind switch
    {
        ConfigValueKind.Integer => Nullable ? "an integer (or null)" : "an integer",
        ConfigValueKind.Number => Nullable ? "a number (or null)" : "a number",
        ConfigValueKind.Boolean => "a boolean (true or false)",
        ConfigValueKind.String => Nullable ? "a string (or null)" : "a string",
        ConfigValueKind.NumberList => Nullable ? "a list of numbers such as [0.1, 1.0] (or null)" : "a list of numbers such as [0.1, 1.0]",
        _ => "a mapping of keys",
    };
}

/// <summary>
/// The key model of <see cref="SemPPLConfig"/>: every public settable property is a key, named by
/// YamlDotNet's <see cref="UnderscoredNamingConvention"/> (BatchUnlabelled -> batch_unlabelled).
/// The loader, the saver, the docs test and key suggestions all use this one model.
/// </summary>
public static class ConfigSchema
{
    private static readonly Dictionary<Type, IReadOnlyList<ConfigKey>> Cache = new();

    /// <summary>snake_case YAML key of a property name.</summary>
    public static string KeyOf(string propertyName) => UnderscoredNamingConvention.Instance.Apply(propertyName);

    /// <summary>The keys of one section type (one level), in declaration order.</summary>
    public static IReadOnlyList<ConfigKey> KeysOf(Type sectionType, string prefix = "")
    {
        lock (Cache)
        {
            if (prefix == "" && Cache.TryGetValue(sectionType, out var cached)) return cached;
        }
        var keys = new List<ConfigKey>();
        foreach (var p in sectionType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!p.CanRead || !p.CanWrite || p.GetIndexParameters().Length > 0) continue;
            var key = KeyOf(p.Name);
            var path = prefix.Length == 0 ? key : prefix + "." + key;
            keys.Add(new ConfigKey(path, key, p, KindOf(p.PropertyType), IsNullable(p)));
        }
        if (prefix == "") lock (Cache) Cache[sectionType] = keys;
        return keys;
    }

    /// <summary>Every key path of the whole configuration, sections included, depth first.</summary>
    public static IReadOnlyList<ConfigKey> AllKeys()
    {
        var all = new List<ConfigKey>();
        void Walk(Type t, string prefix)
        {
            foreach (var k in KeysOf(t, prefix))
            {
                all.Add(k);
                if (k.Kind == ConfigValueKind.Section) Walk(k.Property.PropertyType, k.Path);
            }
        }
        Walk(typeof(SemPPLConfig), "");
        return all;
    }

    /// <summary>The value at a key path (e.g. "training.steps") of a config; null when a section on the way is null.</summary>
    public static object? ValueAt(object root, string path)
    {
        object? cur = root;
        foreach (var seg in path.Split('.'))
        {
            if (cur is null) return null;
            var key = KeysOf(cur.GetType()).First(k => k.Key == seg);
            cur = key.Property.GetValue(cur);
        }
        return cur;
    }

    /// <summary>Every leaf key path (no sections).</summary>
    public static IReadOnlyList<string> LeafPaths() =>
        AllKeys().Where(k => k.Kind != ConfigValueKind.Section).Select(k => k.Path).ToList();

    private static ConfigValueKind KindOf(Type t)
    {
        var u = System.Nullable.GetUnderlyingType(t) ?? t;
        if (u == typeof(int) || u == typeof(long)) return ConfigValueKind.Integer;
        if (u == typeof(double) || u == typeof(float)) return ConfigValueKind.Number;
        if (u == typeof(bool)) return ConfigValueKind.Boolean;
        if (u == typeof(string)) return ConfigValueKind.String;
        if (u == typeof(double[])) return ConfigValueKind.NumberList;
        if (u.IsClass) return ConfigValueKind.Section;
        throw new NotSupportedException($"Config property type {t} is not supported");
    }

    private static bool IsNullable(PropertyInfo p)
    {
        if (System.Nullable.GetUnderlyingType(p.PropertyType) is not null) return true;
        if (p.PropertyType.IsValueType) return false;
        return new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable;
    }

    /// <summary>
    /// The nearest valid key for an unknown one: first among <paramref name="siblings"/> (edit distance,
    /// at most a third of the key's length, at least 2), else the same key name in another section
    /// (returned as a full path). Null when nothing is close.
    /// </summary>
    public static string? Suggest(string unknownKey, IEnumerable<string> siblings, string? sectionPath = null)
    {
        var norm = unknownKey.Trim().ToLowerInvariant().Replace('-', '_');
        string? best = null; int bestD = int.MaxValue;
        foreach (var s in siblings)
        {
            var d = Distance(norm, s);
            if (d < bestD) { bestD = d; best = s; }
        }
        var limit = Math.Max(2, norm.Length / 3);
        if (best is not null && bestD <= limit) return best;
        // The key exists elsewhere (e.g. training.base_lr -> optimizer.base_lr)?
        var parent = sectionPath ?? "";
        var elsewhere = AllKeys()
            .Where(k => ParentOf(k.Path) != parent)
            .Where(k => k.Key == norm || Distance(norm, k.Key) <= 1)
            .OrderBy(k => Distance(norm, k.Key)).FirstOrDefault();
        return elsewhere?.Path;
    }

    private static string ParentOf(string path)
    {
        var i = path.LastIndexOf('.');
        return i < 0 ? "" : path[..i];
    }

    /// <summary>Damerau-Levenshtein (optimal string alignment) distance.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
