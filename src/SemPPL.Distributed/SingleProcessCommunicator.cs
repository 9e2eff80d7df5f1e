namespace SemPPL.Distributed;

/// <summary>World size 1 on host buffers: every collective is the identity (a gather copies), with no engine loaded.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public int Rank => 0;

    public int WorldSize => 1;

    public BufferLocation Location => BufferLocation.Host;

    public void AllReduce(CollectiveBuffer buffer, ReduceOperation operation) => CollectiveChecks.AllReduce(this, buffer);

    public unsafe void AllGather(CollectiveBuffer send, CollectiveBuffer receive)
    {
        CollectiveChecks.AllGather(this, send, receive);
        if (send.Pointer == receive.Pointer || send.Count == 0) return;
        System.Buffer.MemoryCopy((void*)send.Pointer, (void*)receive.Pointer, receive.Bytes, send.Bytes);
    }

    public void Broadcast(CollectiveBuffer buffer, int root) => CollectiveChecks.Broadcast(this, buffer, root);

    public void Barrier() { }

    public void Abort(string message, int exitCode)
    {
        Console.Error.WriteLine(message);
        Environment.Exit(exitCode);
    }

    public void Dispose() { }
}
