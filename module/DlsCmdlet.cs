using System.Management.Automation;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Module;

/// <summary>
/// What every DLS cmdlet shares: the <c>-StorePath</c> parameter and its resolution, the store,
/// cancellation on Ctrl+C, and the one place where core errors become <see cref="ErrorRecord"/>s.
/// </summary>
public abstract class DlsCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();
    private DlsStore? _store;

    /// <summary>
    /// <para type="description">The path of the DLS store (an SQLite file). Defaults to $env:DLS_STORE, else the platform's data folder.</para>
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorePath { get; set; }

    protected CancellationToken CancellationToken => _cancellation.Token;

    protected TimeProvider Time => TimeProvider.System;

    /// <summary>The store path made absolute against the current PowerShell location.</summary>
    protected string ResolvedStorePath =>
        StorePaths.Resolve(StorePath is null || Dls.Core.Storage.Postgres.PostgresUri.IsUri(StorePath) ? StorePath : GetUnresolvedProviderPathFromPSPath(StorePath));

    /// <summary>The existing store; a terminating <c>StoreNotFound</c> when there is none.</summary>
    protected DlsStore Store => _store ??= DlsStore.Open(ResolvedStorePath);

    public void Dispose()
    {
        _cancellation.Dispose();
        GC.SuppressFinalize(this);
    }

    protected sealed override void BeginProcessing() => Guard(Begin, terminating: true);

    protected sealed override void ProcessRecord() => Guard(Process, terminating: false);

    protected sealed override void EndProcessing() => Guard(End, terminating: true);

    protected override void StopProcessing() => _cancellation.Cancel();

    protected virtual void Begin()
    {
    }

    protected abstract void Process();

    protected virtual void End()
    {
    }

    /// <summary>
    /// ShouldProcess for destructive cmdlets with <c>-Force</c>: -Force skips the ConfirmImpact High prompt
    /// (unless -Confirm is given explicitly); -WhatIf, or $WhatIfPreference, still only describes and changes nothing.
    /// </summary>
    protected bool ShouldProcess(string target, string action, bool force)
    {
        var bound = MyInvocation.BoundParameters;
        var whatIf = bound.TryGetValue("WhatIf", out var value)
            ? LanguagePrimitives.IsTrue(value)
            : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));
        if (force && !whatIf && !bound.ContainsKey("Confirm"))
        {
            return true;
        }

        return ShouldProcess(target, action);
    }

    /// <summary>Reports a failure tied to one input; the pipeline goes on.</summary>
    protected void WriteDlsError(DlsException error) => WriteError(ToErrorRecord(error));

    protected static ErrorRecord ToErrorRecord(DlsException error)
    {
        var record = new ErrorRecord(error, error.ErrorId, CategoryOf(error.Kind), error.Target);
        return record;
    }

    internal static ErrorCategory CategoryOf(DlsErrorKind kind) => kind switch
    {
        DlsErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        DlsErrorKind.InvalidData => ErrorCategory.InvalidData,
        DlsErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        DlsErrorKind.AlreadyExists => ErrorCategory.ResourceExists,
        DlsErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
        DlsErrorKind.SecurityError => ErrorCategory.SecurityError,
        DlsErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        DlsErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        DlsErrorKind.LimitsExceeded => ErrorCategory.LimitsExceeded,
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>
    /// The cmdlets' one error boundary. A <see cref="DlsException"/> becomes an ErrorRecord with its ErrorId:
    /// terminating from Begin/End or when it says the store itself cannot be used (StoreBusy, StoreCorrupt, …),
    /// otherwise reported for the one input and the pipeline goes on. PowerShell's own errors (already records),
    /// a pipeline stop and Ctrl+C pass through. Anything else is a DLS bug: it still reaches the user as an
    /// ErrorRecord with the stable id <c>UnexpectedError</c> (terminating), never as a bare .NET exception.
    /// </summary>
    private void Guard(Action step, bool terminating)
    {
        try
        {
            step();
        }
        catch (DlsException error) when (terminating || StoreFailures.IsStoreWide(error))
        {
            ThrowTerminatingError(ToErrorRecord(error));
        }
        catch (DlsException error)
        {
            WriteDlsError(error);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            // Ctrl+C: PowerShell reports the stop itself.
        }
        catch (Exception error) when (error is not (PipelineStoppedException or IContainsErrorRecord))
        {
            ThrowTerminatingError(UnexpectedErrorRecord(error));
        }
    }

    /// <summary>The record for a failure DLS did not foresee: a stable id, and a message that says to report it.</summary>
    internal ErrorRecord UnexpectedErrorRecord(Exception error)
    {
        var wrapped = new DlsException(
            ErrorIds.UnexpectedError,
            DlsErrorKind.InvalidOperation,
            $"{MyInvocation.MyCommand.Name} failed unexpectedly: {error.GetType().Name}: {error.Message} " +
            "This is a fault in DLS, not in your input: please report it with this message and $Error[0].Exception.InnerException.",
            null,
            error);
        return new ErrorRecord(wrapped, ErrorIds.UnexpectedError, ErrorCategory.NotSpecified, null);
    }
}
