namespace SemPPL.Distributed;

/// <summary>Where the buffers handed to a communicator's collectives must live.</summary>
public enum BufferLocation
{
    /// <summary>Process memory (Open MPI, single process).</summary>
    Host,
    /// <summary>Memory of this rank's CUDA device (NCCL).</summary>
    CudaDevice,
}

/// <summary>The element types the collectives move.</summary>
public enum ElementType
{
    Float32,
    Int64,
    Byte,
}

/// <summary>Reductions of <see cref="ICommunicator.AllReduce"/>.</summary>
public enum ReduceOperation
{
    Sum,
    /// <summary>The sum divided by the world size (gradients of data-parallel ranks).</summary>
    Average,
}

/// <summary>
/// A contiguous run of elements at an address the communicator can reach (see <see cref="ICommunicator.Location"/>):
/// a pinned host array, or a device pointer such as an ONNX Runtime tensor's data. The buffer does not own the memory.
/// </summary>
public readonly record struct CollectiveBuffer(nint Pointer, long Count, ElementType Type)
{
    public long Bytes => Count * ElementSize(Type);

    public static int ElementSize(ElementType type) => type switch
    {
        ElementType.Float32 => 4,
        ElementType.Int64 => 8,
        _ => 1,
    };
}

/// <summary>
/// The collectives of data-parallel training among <see cref="WorldSize"/> processes. Every rank calls the
/// same collectives in the same order with the same counts. A call returns when its result is complete
/// in the buffer. A failure (an engine error, a rank that died or stopped answering within the
/// communicator's timeout) throws <see cref="CommunicatorException"/> naming this rank, or, where the
/// engine cannot return while a peer hangs, ends the process with that message (see each implementation).
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }

    int WorldSize { get; }

    BufferLocation Location { get; }

    /// <summary>Reduces <paramref name="buffer"/> element-wise over all ranks, in place (Float32 only).</summary>
    void AllReduce(CollectiveBuffer buffer, ReduceOperation operation);

    /// <summary>Writes every rank's <paramref name="send"/> into <paramref name="receive"/> in rank order; receive holds WorldSize x send.Count elements.</summary>
    void AllGather(CollectiveBuffer send, CollectiveBuffer receive);

    /// <summary>Overwrites <paramref name="buffer"/> on every rank with its content on <paramref name="root"/>.</summary>
    void Broadcast(CollectiveBuffer buffer, int root);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> after writing <paramref name="message"/> (one line, naming this rank) to standard error.</summary>
    void Abort(string message, int exitCode);
}

/// <summary>A collective failed; the message names the rank that saw it and the engine's reason.</summary>
public sealed class CommunicatorException(string message) : Exception(message);
