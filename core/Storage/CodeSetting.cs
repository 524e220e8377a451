namespace Dls.Core.Storage;

/// <summary>A setting of a handshake code that Set-DlsHandshakeCode (and New-) writes on its own (<see cref="ICodeStore.SetSetting"/>).</summary>
internal enum CodeSetting
{
    /// <summary>Whether the code serves clients (an integer, 1 or 0).</summary>
    Enabled,

    /// <summary>Whether the code is its organization's default (an integer, 1 or 0).</summary>
    IsDefault,

    /// <summary>The session password's hash, or null when it has none.</summary>
    PasswordHash,

    Description,

    /// <summary>The allowed domains as a JSON list (<see cref="Licensing.LicenseCatalog.WriteList"/>).</summary>
    AllowedDomains,

    /// <summary>The allowed app ids as a JSON list.</summary>
    AllowedAppIds,

    /// <summary>The allowed process names as a JSON list.</summary>
    AllowedProcessNames,
}
