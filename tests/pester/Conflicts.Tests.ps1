BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # Other versions of the module's dependencies, as another module in the same session would have loaded them.
    # They come from tests/pester/Conflicts.Restore.csproj (build.ps1 test restores it; so does this file if needed).
    $packages = ((dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
    $script:OtherSqlite = Join-Path $packages 'microsoft.data.sqlite.core/6.0.7/lib/net6.0/Microsoft.Data.Sqlite.dll'
    $script:OtherMailKit = Join-Path $packages 'mailkit/4.2.0/lib/net6.0/MailKit.dll'
    if (-not ((Test-Path $OtherSqlite) -and (Test-Path $OtherMailKit))) {
        dotnet restore (Join-Path $PSScriptRoot 'Conflicts.Restore.csproj') --nologo -v:q | Out-Host
        if ($LASTEXITCODE -ne 0) { throw 'Restoring tests/pester/Conflicts.Restore.csproj failed.' }
    }

    # Runs $Script in a new pwsh that first loads the assemblies in $Preload and only then imports DLS. Returns
    # the script's output (converted from JSON) and, per preloaded assembly, the versions loaded under its name
    # in the default load context once the script has run.
    function Invoke-ConflictSession([string[]] $Preload, [string] $Script, [hashtable] $Arguments) {
        $argumentJson = ($Arguments | ConvertTo-Json -Compress -Depth 5) -replace "'", "''"
        $preloadList = ($Preload | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }) -join ','
        $wrapper = @"
`$ErrorActionPreference = 'Stop'
`$preloaded = foreach (`$path in @($preloadList)) { [System.Reflection.Assembly]::LoadFrom(`$path) }
Import-Module '$($script:ModuleManifest)'
`$Arg = '$argumentJson' | ConvertFrom-Json
`$result = & { $Script }
`$defaultContext = [System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies
[pscustomobject]@{
    Result    = `$result
    Preloaded = @(foreach (`$assembly in `$preloaded) {
        `$name = `$assembly.GetName().Name
        [pscustomobject]@{ Name = `$name; Versions = @(`$defaultContext | Where-Object { `$_.GetName().Name -eq `$name } | ForEach-Object { `$_.GetName().Version.ToString() }) }
    })
} | ConvertTo-Json -Depth 6 -Compress -EnumsAsStrings
"@
        $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($wrapper))
        $output = Invoke-ChildPwsh -EncodedCommand $encoded
        if ($LASTEXITCODE -ne 0) { throw "The session with other versions loaded failed: $($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }

    # What an administrator does first: a store, its server, a trusted vendor, an imported license.
    $script:LicensingScript = {
        $folder = Split-Path $Arg.StorePath
        $server = Initialize-DlsServer -StorePath $Arg.StorePath -OrganizationId 216998
        New-DlsIssuerKey -Path (Join-Path $folder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Vendor' -StorePath $Arg.StorePath
        $file = $server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId CONFLICT-1 -IssuerKeyPath (Join-Path $folder 'vendor.key') `
            -Path (Join-Path $folder 'conflict.dlslicense') -Item @(
            @{ ItemId = 'C-ITEM'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 5; ExpirationDate = (Get-Date).AddYears(1) })
        $license = Import-DlsLicense -Path $file -StorePath $Arg.StorePath
        [pscustomobject]@{
            Uuid      = $server.Uuid
            Seen      = (Get-DlsServer -StorePath $Arg.StorePath).Uuid
            LicenseId = $license.LicenseId
            Items     = @(Get-DlsLicenseItem -StorePath $Arg.StorePath | ForEach-Object ItemId)
        }
    }

    $script:AlertScript = {
        $null = Initialize-DlsServer -StorePath $Arg.StorePath
        Set-DlsAlertSetting -StorePath $Arg.StorePath -SmtpServer 127.0.0.1 -SmtpPort $Arg.Port -SmtpSecurity None -From dls@example.test -To admin@example.test
        Send-DlsTestAlert -StorePath $Arg.StorePath | Select-Object Channel, Delivered, Error
    }
}

Describe 'The module in a session that already loaded other versions of its dependencies' {
    BeforeEach {
        $script:StorePath = New-TestStorePath
    }

    AfterEach {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'initializes a server, reads it back and imports a license with Microsoft.Data.Sqlite 6.0.7 loaded first' {
        $session = Invoke-ConflictSession -Preload $OtherSqlite -Script $LicensingScript -Arguments @{ StorePath = $StorePath }

        $session.Result.Uuid | Should -Match '^[0-9a-f]{8}-'
        $session.Result.Seen | Should -Be $session.Result.Uuid
        $session.Result.LicenseId | Should -Be 'CONFLICT-1'
        @($session.Result.Items) | Should -Be @('C-ITEM')
        # The other module's copy is still the one the session's default context knows, alone.
        @($session.Preloaded[0].Versions) | Should -Be @('6.0.7.0')
    }

    It 'sends a test e-mail with MailKit 4.2.0 loaded first' {
        $port = Get-FreePort
        $mailFolder = Join-Path (Split-Path $StorePath) 'mail'
        $sink = Start-SmtpSink -Port $port -Folder $mailFolder
        try {
            $session = Invoke-ConflictSession -Preload $OtherMailKit -Script $AlertScript -Arguments @{ StorePath = $StorePath; Port = $port }
        } finally { Stop-SmtpSink $sink }

        $session.Result.Channel | Should -Be 'Email'
        $session.Result.Delivered | Should -BeTrue
        $session.Result.Error | Should -BeNullOrEmpty
        @(Get-ChildItem $mailFolder -Filter *.eml).Count | Should -Be 1
        @($session.Preloaded[0].Versions) | Should -Be @('4.2.0.0')
    }

    It 'does all of it with both loaded first, and the store is readable by the module in a plain session' {
        $port = Get-FreePort
        $mailFolder = Join-Path (Split-Path $StorePath) 'mail'
        $sink = Start-SmtpSink -Port $port -Folder $mailFolder
        try {
            # Initialize-DlsServer returns the existing server unchanged, so the alert part runs on the licensed store.
            $both = "& { $LicensingScript }; & { $AlertScript }"
            $session = Invoke-ConflictSession -Preload $OtherSqlite, $OtherMailKit -Script $both -Arguments @{ StorePath = $StorePath; Port = $port }
        } finally { Stop-SmtpSink $sink }

        $session.Result[0].LicenseId | Should -Be 'CONFLICT-1'
        $session.Result[1].Delivered | Should -BeTrue
        @($session.Preloaded | ForEach-Object { $_.Versions }) | Should -Be @('6.0.7.0', '4.2.0.0')
        (Invoke-FreshSession -StorePath $StorePath -Script { (Get-DlsLicense -StorePath $StorePath).LicenseId }) | Should -Be 'CONFLICT-1'
    }
}

Describe 'The cmdlet assembly' {
    It 'references none of the dependencies that live in the module''s own load context' {
        $stream = [System.IO.File]::OpenRead((Join-Path $ModuleFolder 'DLS.dll'))
        try {
            $reader = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $metadata = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($reader)
            $references = @(foreach ($handle in $metadata.AssemblyReferences) {
                    $metadata.GetString($metadata.GetAssemblyReference($handle).Name)
                })
            $reader.Dispose()
        } finally { $stream.Dispose() }

        $references | Should -Contain 'Dls.Core'
        $dependencies = Get-ChildItem (Join-Path $ModuleFolder 'Dependencies') -Filter *.dll | ForEach-Object BaseName | Where-Object { $_ -ne 'Dls.Core' }
        $dependencies | Should -Contain 'Microsoft.Data.Sqlite'
        $dependencies | Should -Contain 'MailKit'
        $references | Where-Object { $_ -in $dependencies } | Should -BeNullOrEmpty
    }

    It 'sits beside the manifest with only the load-context setup; core and every dependency are in Dependencies/' {
        @(Get-ChildItem $ModuleFolder -Filter *.dll | ForEach-Object Name | Sort-Object) | Should -Be @('DLS.dll', 'DLS.Init.dll')
        Join-Path $ModuleFolder 'Dependencies/Dls.Core.dll' | Should -Exist
    }
}
