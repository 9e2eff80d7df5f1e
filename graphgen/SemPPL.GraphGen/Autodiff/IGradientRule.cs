namespace SemPPL.GraphGen.Autodiff;

/// <summary>The backward of one op type: given the gradients of a node's outputs, add gradients of its inputs.</summary>
public interface IGradientRule
{
    /// <summary>ONNX op types this rule differentiates.</summary>
    IReadOnlyList<string> OpTypes { get; }

    void Backward(GradientContext ctx);
}
