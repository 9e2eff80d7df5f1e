using SemPPL.GraphGen.Onnx;

namespace SemPPL.GraphGen.Autodiff;

/// <summary>Result of differentiation: the gradient value of each differentiated value.</summary>
public sealed record GradientResult(IReadOnlyDictionary<Value, Value> Gradients)
{
    public Value this[Value v] => Gradients[v];
}

/// <summary>
/// Reverse-mode autodiff over a <see cref="GraphBuilder"/> graph: appends backward nodes for the
/// nodes that lie between the differentiated values and the loss, accumulating gradients of values
/// with several consumers, honouring stop-gradient nodes, and building nothing for branches that do
/// not reach the loss.
/// </summary>
public static class Differentiator
{
    /// <param name="outputPrefix">When not null, each gradient becomes a graph output named prefix + value name.</param>
    public static GradientResult Differentiate(GraphBuilder g, Value loss, IReadOnlyList<Value> wrt,
        GradientRegistry? registry = null, string? outputPrefix = "grad.", Value? seed = null)
    {
        registry ??= GradientRegistry.Default;
        if (loss.Graph != g) throw new ArgumentException("loss belongs to another graph");
        if (seed is null && loss.ElementCount != 1) throw new ArgumentException($"loss '{loss.Name}' must be a scalar (shape {Shapes.Str(loss.Shape)}) or a seed gradient must be given");

        var forwardNodes = g.Nodes.ToList(); // backward nodes appended below are not revisited
        var producerIndex = new Dictionary<Node, int>();
        for (int i = 0; i < forwardNodes.Count; i++) producerIndex[forwardNodes[i]] = i;

        // Values that depend on a differentiated value (forward reachability), through gradient-carrying nodes.
        var dependsOnWrt = new HashSet<Value>(wrt);
        foreach (var n in forwardNodes)
        {
            if (n.StopsGradient) continue;
            if (n.Inputs.Any(i => i is not null && dependsOnWrt.Contains(i)))
                foreach (var o in n.Outputs) dependsOnWrt.Add(o);
        }
        // Values the loss depends on (backward reachability).
        var lossDependsOn = new HashSet<Value> { loss };
        for (int i = forwardNodes.Count - 1; i >= 0; i--)
        {
            var n = forwardNodes[i];
            if (n.StopsGradient || !n.Outputs.Any(lossDependsOn.Contains)) continue;
            foreach (var inp in n.Inputs) if (inp is not null) lossDependsOn.Add(inp);
        }
        bool OnPath(Value v) => dependsOnWrt.Contains(v) && lossDependsOn.Contains(v);

        var pending = new Dictionary<Value, List<Value>>();
        var summed = new Dictionary<Value, Value>();
        void Accumulate(Value v, Value grad)
        {
            if (summed.ContainsKey(v)) throw new InvalidOperationException($"gradient of '{v.Name}' was read before all contributions arrived");
            if (!pending.TryGetValue(v, out var list)) pending[v] = list = [];
            list.Add(grad);
        }
        Value? GradOf(Value v)
        {
            if (summed.TryGetValue(v, out var s)) return s;
            if (!pending.TryGetValue(v, out var list)) return null;
            var total = g.InScope("grad.", () => g.Sum(list));
            summed[v] = total;
            return total;
        }

        Accumulate(loss, seed ?? g.Filled(loss.Type, 1.0, loss.Shape));

        for (int i = forwardNodes.Count - 1; i >= 0; i--)
        {
            var n = forwardNodes[i];
            if (n.StopsGradient || !n.Outputs.Any(OnPath)) continue;
            if (!n.Inputs.Any(v => v is not null && OnPath(v))) continue;
            if (n.Outputs.All(o => GradOf(o) is null)) continue;
            var ruleKey = n.GradientRule ?? n.OpType;
            if (!registry.TryGet(ruleKey, out var rule)) throw new MissingGradientRuleException(ruleKey, n.Name, loss.Name, n.Origin);
            var ctx = new GradientContext(g, n, GradOf, OnPath, Accumulate);
            g.InScope("grad.", () => { rule.Backward(ctx); return 0; });
        }

        var result = new Dictionary<Value, Value>();
        foreach (var w in wrt)
        {
            var grad = GradOf(w) ?? g.Zeros(w.Type, w.Shape);
            if (outputPrefix is not null) grad = g.Output(grad, outputPrefix + w.Name);
            result[w] = grad;
        }
        return new GradientResult(result);
    }
}
