namespace Dls.Core.Errors;

/// <summary>
/// Every <see cref="DlsException.ErrorId"/> DLS raises, in one place. Scripts match these strings
/// (<c>$_.FullyQualifiedErrorId</c>), so a name never changes once shipped; code compares against these
/// constants, never against literals.
/// </summary>
public static class ErrorIds
{
    // Alert
    public const string AlertChannelNotConfigured = nameof(AlertChannelNotConfigured);
    public const string AlertDeliveryFailed = nameof(AlertDeliveryFailed);
    public const string AlertSecretKeyInvalid = nameof(AlertSecretKeyInvalid);
    public const string AlertSecretKeyMissing = nameof(AlertSecretKeyMissing);
    public const string AlertSecretUnreadable = nameof(AlertSecretUnreadable);

    // Allowed
    public const string AllowedValueInvalid = nameof(AllowedValueInvalid);

    // Backup
    public const string BackupEngineMismatch = nameof(BackupEngineMismatch);
    public const string BackupExists = nameof(BackupExists);
    public const string BackupInvalid = nameof(BackupInvalid);
    public const string BackupIsStore = nameof(BackupIsStore);
    public const string BackupNotDls = nameof(BackupNotDls);
    public const string BackupNotFound = nameof(BackupNotFound);
    public const string BackupSecretsKeyInvalid = nameof(BackupSecretsKeyInvalid);
    public const string BackupSecretsKeyMissing = nameof(BackupSecretsKeyMissing);
    public const string BackupTooNew = nameof(BackupTooNew);

    // Certificate
    public const string CertificateInvalid = nameof(CertificateInvalid);
    public const string CertificateMissing = nameof(CertificateMissing);
    public const string CertificateNotFound = nameof(CertificateNotFound);

    // Description
    public const string DescriptionInvalid = nameof(DescriptionInvalid);

    // Device
    public const string DeviceNotFound = nameof(DeviceNotFound);

    // Dotnet
    public const string DotnetNotFound = nameof(DotnetNotFound);

    // Handshake
    public const string HandshakeCodeExists = nameof(HandshakeCodeExists);
    public const string HandshakeCodeNameInvalid = nameof(HandshakeCodeNameInvalid);
    public const string HandshakeCodeNotFound = nameof(HandshakeCodeNotFound);

    // Import
    public const string ImportTargetAmbiguous = nameof(ImportTargetAmbiguous);

    // Issuer
    public const string IssuerAlreadyTrusted = nameof(IssuerAlreadyTrusted);
    public const string IssuerKeyExists = nameof(IssuerKeyExists);
    public const string IssuerKeyInvalid = nameof(IssuerKeyInvalid);
    public const string IssuerKeyNotFound = nameof(IssuerKeyNotFound);
    public const string IssuerKeyNotWritten = nameof(IssuerKeyNotWritten);
    public const string IssuerNameInvalid = nameof(IssuerNameInvalid);
    public const string IssuerNotFound = nameof(IssuerNotFound);

    // Item
    public const string ItemHasNoSeats = nameof(ItemHasNoSeats);
    public const string ItemIdRepeated = nameof(ItemIdRepeated);
    public const string ItemNotInCode = nameof(ItemNotInCode);

    // License
    public const string LicenseAliasInvalid = nameof(LicenseAliasInvalid);
    public const string LicenseBoundToOtherServer = nameof(LicenseBoundToOtherServer);
    public const string LicenseFileExists = nameof(LicenseFileExists);
    public const string LicenseFileNotFound = nameof(LicenseFileNotFound);
    public const string LicenseFileUnreadable = nameof(LicenseFileUnreadable);
    public const string LicenseFormatUnsupported = nameof(LicenseFormatUnsupported);
    public const string LicenseInvalid = nameof(LicenseInvalid);
    public const string LicenseIssuerNotTrusted = nameof(LicenseIssuerNotTrusted);
    public const string LicenseItemConflict = nameof(LicenseItemConflict);
    public const string LicenseItemInvalid = nameof(LicenseItemInvalid);
    public const string LicenseItemNotFound = nameof(LicenseItemNotFound);
    public const string LicenseItemRevokedByAnotherIssuer = nameof(LicenseItemRevokedByAnotherIssuer);
    public const string LicenseKeyInvalid = nameof(LicenseKeyInvalid);
    public const string LicenseMalformed = nameof(LicenseMalformed);
    public const string LicenseNotFound = nameof(LicenseNotFound);
    public const string LicenseOrganizationMismatch = nameof(LicenseOrganizationMismatch);
    public const string LicenseOwnedByAnotherIssuer = nameof(LicenseOwnedByAnotherIssuer);
    public const string LicenseRevokesForeignItem = nameof(LicenseRevokesForeignItem);
    public const string LicenseSignatureInvalid = nameof(LicenseSignatureInvalid);
    public const string LicenseSuperseded = nameof(LicenseSuperseded);

    // Listener
    public const string ListenerAlreadyRunning = nameof(ListenerAlreadyRunning);
    public const string ListenerNotFound = nameof(ListenerNotFound);
    public const string ListenerNotInstalled = nameof(ListenerNotInstalled);
    public const string ListenerPortInUse = nameof(ListenerPortInUse);
    public const string ListenerRunning = nameof(ListenerRunning);
    public const string ListenerStartFailed = nameof(ListenerStartFailed);
    public const string ListenerStartTimeout = nameof(ListenerStartTimeout);
    public const string ListenerStopFailed = nameof(ListenerStopFailed);
    public const string ListenerUrlInvalid = nameof(ListenerUrlInvalid);

    // Organization
    public const string OrganizationIdInvalid = nameof(OrganizationIdInvalid);
    public const string OrganizationNotSet = nameof(OrganizationNotSet);

    // PostgreSQL's own tools (pg_dump, pg_restore)
    public const string PostgresToolFailed = nameof(PostgresToolFailed);
    public const string PostgresToolMissing = nameof(PostgresToolMissing);

    // Protection
    public const string ProtectionSettingInvalid = nameof(ProtectionSettingInvalid);

    // Public
    public const string PublicKeyInvalid = nameof(PublicKeyInvalid);

    // Request (the listener's protocol)
    public const string RequestMalformed = nameof(RequestMalformed);
    public const string RequestTooLarge = nameof(RequestTooLarge);

    // Server
    public const string ServerHasLicenses = nameof(ServerHasLicenses);
    public const string ServerNotInitialized = nameof(ServerNotInitialized);
    public const string ServerUrlInvalid = nameof(ServerUrlInvalid);

    // Session
    public const string SessionPasswordMismatch = nameof(SessionPasswordMismatch);
    public const string SessionPasswordNotSet = nameof(SessionPasswordNotSet);

    // Signing
    public const string SigningKeySecretsKeyInvalid = nameof(SigningKeySecretsKeyInvalid);
    public const string SigningKeySecretsKeyMissing = nameof(SigningKeySecretsKeyMissing);
    public const string SigningKeyUnreadable = nameof(SigningKeyUnreadable);

    // Store
    public const string StoreBusy = nameof(StoreBusy);
    public const string StoreCorrupt = nameof(StoreCorrupt);
    public const string StoreFull = nameof(StoreFull);
    public const string InvalidStoreUri = nameof(InvalidStoreUri);
    public const string StoreNotDls = nameof(StoreNotDls);
    public const string StoreNotFound = nameof(StoreNotFound);
    public const string StoreReadOnly = nameof(StoreReadOnly);
    public const string StoreTooNew = nameof(StoreTooNew);
    public const string StoreUnavailable = nameof(StoreUnavailable);

    // Unexpected
    public const string UnexpectedError = nameof(UnexpectedError);

    // Usage
    public const string UsageRangeInvalid = nameof(UsageRangeInvalid);
    public const string UsageRetentionInvalid = nameof(UsageRetentionInvalid);
    public const string UsageDetailPurged = nameof(UsageDetailPurged);
}
