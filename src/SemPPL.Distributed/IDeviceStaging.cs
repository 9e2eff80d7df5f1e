namespace SemPPL.Distributed;

/// <summary>
/// Device memory that host arrays are staged through for a device communicator (<see cref="DeviceStagedCommunicator"/>):
/// allocation, and copies ordered with that communicator's collectives.
/// </summary>
public interface IDeviceStaging
{
    /// <summary>At least <paramref name="bytes"/> bytes of device memory (freed with <see cref="Free"/>).</summary>
    nint Allocate(long bytes);

    void Free(nint device);

    /// <summary>Copies host bytes to the device; the next collective sees them.</summary>
    void Upload(nint host, nint device, long bytes);

    /// <summary>Copies device bytes to the host once the collectives issued before it are complete; returns when they are on the host.</summary>
    void Download(nint device, nint host, long bytes);
}
