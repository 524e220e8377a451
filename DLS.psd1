@{
    RootModule           = 'DLS.dll'
    # Loaded before DLS.dll: puts Dls.Core and its libraries (Dependencies/) into the module's own load context.
    NestedModules        = @('DLS.Init.dll')
    ModuleVersion        = '0.1.0'
    GUID                 = '5f0b7a8e-3c1d-4e52-9a6b-0d2e7c9f41a3'
    Author               = 'DLS contributors'
    CompanyName          = 'DLS'
    Copyright            = '(c) DLS contributors. All rights reserved.'
    Description          = 'DLS: a self-hosted software license tracking server. Import signed license files, hand their items to applications through handshake codes, run the listener that SDK clients ask for authorization, and watch usage.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('DLS.Format.ps1xml')
    CmdletsToExport      = @(
        'Initialize-DlsServer'
        'Get-DlsServer'
        'Set-DlsServer'
        'Start-DlsListener'
        'Get-DlsListener'
        'Stop-DlsListener'
        'Backup-DlsStore'
        'Restore-DlsStore'
        'Get-DlsAuditLog'
        'Get-DlsDevice'
        'Remove-DlsDevice'
        'Set-DlsAlertSetting'
        'Get-DlsAlertSetting'
        'Get-DlsAlert'
        'Send-DlsTestAlert'
        'Invoke-DlsAlertCheck'
        'New-DlsIssuerKey'
        'New-DlsLicenseFile'
        'Add-DlsTrustedIssuer'
        'Get-DlsTrustedIssuer'
        'Remove-DlsTrustedIssuer'
        'Import-DlsLicense'
        'Get-DlsLicense'
        'Set-DlsLicense'
        'Remove-DlsLicense'
        'Get-DlsLicenseItem'
        'New-DlsHandshakeCode'
        'Get-DlsHandshakeCode'
        'Set-DlsHandshakeCode'
        'Remove-DlsHandshakeCode'
        'Get-DlsLicenseKey'
        'Get-DlsUsage'
        'Export-DlsUsageReport'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('License', 'Licensing', 'SDK', 'Server', 'Linux', 'Windows', 'MacOS')
            ProjectUri = 'https://example.invalid/dls'
        }
    }
}
