using Tessera.Core.Common;

namespace Tessera.Server.Changes;

/// <summary>
/// Applies a stored <see cref="DirectoryChange"/> again, through its own use case and so through the
/// <see cref="DirectoryPipeline"/> (an approved change request, say). Each feature that owns change records
/// registers one (<c>services.AddScoped&lt;IChangeReplay, …&gt;()</c>). The replay runs in the current request, so
/// the acting user is whoever makes that request (the checker of an approval): the delegation rules judge them.
/// </summary>
public interface IChangeReplay
{
    bool Replays(DirectoryChange change);

    /// <summary>
    /// The privilege the endpoint that makes this change requires. A checker must hold it as well as APPROVE_CHANGES:
    /// approving a change is making it.
    /// </summary>
    string PrivilegeFor(DirectoryChange change);

    /// <summary>Null when the change applied; the failure otherwise (nothing changed).</summary>
    Task<Failure?> ReplayAsync(DirectoryChange change, CancellationToken ct);
}
