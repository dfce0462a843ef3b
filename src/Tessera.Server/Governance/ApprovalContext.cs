using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// Tells the <see cref="Changes.DirectoryPipeline"/> of this request that it is applying an approved change request:
/// it does not defer the change again, it marks the request approved in the change's own transaction (so that of two
/// checkers approving at once only one applies it), and the change's audit events name the request, its maker and its
/// checker. One per request scope; set only by <see cref="ChangeRequestService"/> around a replay.
/// </summary>
public sealed class ApprovalContext
{
    public ChangeRequest? Replaying { get; private set; }

    public Guid CheckerId { get; private set; }

    public string CheckerUsername { get; private set; } = "";

    public string? Comment { get; private set; }

    /// <summary>The pipeline marked the request approved and committed the change.</summary>
    public bool Completed { get; internal set; }

    /// <summary>The delegation rules refused the checker: the request stays pending for another checker.</summary>
    public bool RefusedByDelegation { get; internal set; }

    public void Begin(ChangeRequest request, Guid checkerId, string checkerUsername, string? comment)
    {
        Replaying = request;
        CheckerId = checkerId;
        CheckerUsername = checkerUsername;
        Comment = comment;
        Completed = false;
        RefusedByDelegation = false;
    }

    public void End() => Replaying = null;

    /// <summary>What the audit events of an applied request carry about it.</summary>
    public object Describe() => new
    {
        id = Replaying!.Id,
        operation = Replaying.Operation,
        maker = new { id = Replaying.MakerId, username = Replaying.MakerUsername },
        checker = new { id = CheckerId, username = CheckerUsername },
    };
}
