namespace SemPPL.Distributed;

/// <summary>The collectives on managed host arrays, for communicators whose <see cref="ICommunicator.Location"/> is the host.</summary>
public static unsafe class HostCollectives
{
    public static void AllReduce(this ICommunicator c, Span<float> values, ReduceOperation operation)
    {
        RequireHost(c);
        fixed (float* p = values) c.AllReduce(new CollectiveBuffer((nint)p, values.Length, ElementType.Float32), operation);
    }

    public static void AllGather(this ICommunicator c, ReadOnlySpan<float> send, Span<float> receive)
    {
        RequireHost(c);
        fixed (float* s = send)
        fixed (float* r = receive)
            c.AllGather(new CollectiveBuffer((nint)s, send.Length, ElementType.Float32), new CollectiveBuffer((nint)r, receive.Length, ElementType.Float32));
    }

    public static void AllGather(this ICommunicator c, ReadOnlySpan<long> send, Span<long> receive)
    {
        RequireHost(c);
        fixed (long* s = send)
        fixed (long* r = receive)
            c.AllGather(new CollectiveBuffer((nint)s, send.Length, ElementType.Int64), new CollectiveBuffer((nint)r, receive.Length, ElementType.Int64));
    }

    public static void Broadcast(this ICommunicator c, Span<float> values, int root)
    {
        RequireHost(c);
        fixed (float* p = values) c.Broadcast(new CollectiveBuffer((nint)p, values.Length, ElementType.Float32), root);
    }

    public static void Broadcast(this ICommunicator c, Span<byte> bytes, int root)
    {
        RequireHost(c);
        fixed (byte* p = bytes) c.Broadcast(new CollectiveBuffer((nint)p, bytes.Length, ElementType.Byte), root);
    }

    private static void RequireHost(ICommunicator c)
    {
        if (c.Location != BufferLocation.Host)
            throw new CommunicatorException($"{CollectiveChecks.Where(c)}: {c.GetType().Name} works on {c.Location} buffers, not host arrays");
    }
}
