namespace SemPPL.Distributed;

/// <summary>Argument checks every communicator applies before calling its engine, so misuse fails with one message naming the rank.</summary>
internal static class CollectiveChecks
{
    public static void AllReduce(ICommunicator c, CollectiveBuffer buffer)
    {
        Buffer(c, buffer, nameof(buffer));
        if (buffer.Type != ElementType.Float32)
            throw new CommunicatorException($"{Where(c)}: all-reduce takes Float32 buffers, not {buffer.Type}");
    }

    public static void AllGather(ICommunicator c, CollectiveBuffer send, CollectiveBuffer receive)
    {
        Buffer(c, send, nameof(send));
        Buffer(c, receive, nameof(receive));
        if (send.Type != receive.Type || receive.Count != send.Count * c.WorldSize)
            throw new CommunicatorException($"{Where(c)}: all-gather receives {receive.Count} {receive.Type} for {send.Count} {send.Type} sent; "
                                            + $"it needs {send.Count * c.WorldSize} ({c.WorldSize} ranks) of the same type");
    }

    public static void Broadcast(ICommunicator c, CollectiveBuffer buffer, int root)
    {
        Buffer(c, buffer, nameof(buffer));
        if (root < 0 || root >= c.WorldSize) throw new CommunicatorException($"{Where(c)}: broadcast root {root} is not a rank (0..{c.WorldSize - 1})");
    }

    public static string Where(ICommunicator c) => $"rank {c.Rank} of {c.WorldSize}";

    private static void Buffer(ICommunicator c, CollectiveBuffer b, string name)
    {
        if (b.Count < 0 || (b.Count > 0 && b.Pointer == 0))
            throw new CommunicatorException($"{Where(c)}: {name} buffer of {b.Count} elements at address {b.Pointer} is not valid");
    }
}
