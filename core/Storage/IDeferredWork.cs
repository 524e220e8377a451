namespace Dls.Core.Storage;

/// <summary>
/// Work the <see cref="GroupCommitWriter"/> lets a participant put off to a commit of its choosing (the roll-ups of the
/// statistics): asked before every commit whether to do it now, and woken with an empty batch when it is due although
/// no request comes.
/// </summary>
public interface IDeferredWork
{
    /// <summary>How long until the deferred work must be done even if no request comes; null when there is none.</summary>
    TimeSpan? DueIn();

    /// <summary>
    /// Runs in a batch's transaction after its requests. <paramref name="idle"/>: no request is waiting for the writer;
    /// <paramref name="final"/>: the writer is stopping, whatever is deferred must be done now.
    /// </summary>
    void BeforeCommit(UnitOfWork work, bool idle, bool final);

    /// <summary>The batch's transaction committed.</summary>
    void Committed();

    /// <summary>The batch's transaction failed: nothing it wrote (work done in <see cref="BeforeCommit"/> included) is stored.</summary>
    void Failed();
}
