# A store in PostgreSQL (SPEC §1), named by a postgresql:// URI wherever a store path is accepted: the cmdlets and a
# real listener process on it, as an administrator meets them. Skipped, with the reason, where PostgreSQL is not installed.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:NoPostgres = -not (Find-PostgresBinaries)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
    if (Find-PostgresBinaries) {
        $script:Cluster = Start-TestPostgres
        $script:Uri = $Cluster.Uri
        $script:Folder = Join-Path $Cluster.Folder 'files'
        New-Item -ItemType Directory $Folder | Out-Null
        # The store's secrets key is a file of this machine: kept with the throwaway cluster.
        $script:SavedKey = $env:DLS_SECRETS_KEY
        $env:DLS_SECRETS_KEY = Join-Path $Folder 'secrets.key'
        # The listener's logs go to a folder named after the store in the user's data folder: here, the cluster's.
        $script:SavedDataHome = $env:XDG_DATA_HOME
        $env:XDG_DATA_HOME = Join-Path $Folder 'data'
    }
}

AfterAll {
    if ($Uri) { Stop-DlsListener -StorePath $Uri -Confirm:$false -ErrorAction SilentlyContinue | Out-Null }
    $env:DLS_SECRETS_KEY = $SavedKey
    $env:XDG_DATA_HOME = $SavedDataHome
    Stop-TestPostgres $Cluster
}

Describe 'A PostgreSQL store' -Skip:$NoPostgres {
    It 'is initialized, licensed, served and reported on through its URI' {
        $server = Initialize-DlsServer -StorePath $Uri -OrganizationId 216998
        $server.StorePath | Should -Be $Uri
        New-DlsIssuerKey -Path (Join-Path $Folder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Vendor' -StorePath $Uri | Out-Null
        $server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId PG-1 -IssuerKeyPath (Join-Path $Folder 'vendor.key') -Path (Join-Path $Folder 'pg.dlslicense') -Item @(
            @{ ItemId = 'SCAN'; Product = 'DLR'; Version = '3'; Deployment = 'Desktop'; Mode = 'PerScan'; Quantity = 100; ExpirationDate = [datetime]::UtcNow.AddYears(1) }
        ) | Out-Null
        Import-DlsLicense -StorePath $Uri -Path (Join-Path $Folder 'pg.dlslicense') -NewHandshakeCode app | Out-Null

        $url = (Start-DlsListener -StorePath $Uri -Url http://127.0.0.1:0).Url
        (Get-DlsListener -StorePath $Uri).Url | Should -Contain $url
        $auth = Invoke-RestMethod -Uri "$($url)api/v1/auth" -Method Post -ContentType 'application/json' -Body (@{
            handshakeCode = '216998-app'; clientUuid = 'pg-device'; product = 'DLR'; version = '3.0'; deployment = 'Desktop'
            processName = 'scanner'; os = 'Linux'; requestId = [guid]::NewGuid().ToString() } | ConvertTo-Json)
        $auth.itemId | Should -Be 'SCAN'
        $now = [datetime]::UtcNow
        $slice = $now.AddTicks(-($now.Ticks % [timespan]::FromMinutes(3).Ticks)).ToString('yyyy-MM-ddTHH:mm:ssZ')
        $report = Invoke-RestMethod -Uri "$($url)api/v1/reports" -Method Post -ContentType 'application/json' -Body (@{
            clientUuid = 'pg-device'; handshakeCode = '216998-app'; batchId = 'b-1'
            records = @(@{ slice = $slice; itemId = 'SCAN'; product = 'DLR'; count = 7 }) } | ConvertTo-Json -Depth 4)
        $report.accepted | Should -Be 1

        (Get-DlsLicenseItem -StorePath $Uri -ItemId SCAN).Used | Should -Be 7
        (Get-DlsUsage -StorePath $Uri -Interval Total -By Item -ItemId SCAN).UsageCount | Should -Be 7
        Stop-DlsListener -StorePath $Uri -Confirm:$false | Out-Null
    }

    It 'is the default store when $env:DLS_STORE holds its URI' {
        $saved = $env:DLS_STORE
        try {
            $env:DLS_STORE = $Uri
            (Get-DlsServer).StorePath | Should -Be $Uri
        } finally {
            $env:DLS_STORE = $saved
        }
    }

    It 'refuses a URI with a password in it, and names no password in the error' {
        $withPassword = $Uri -replace 'postgres@', 'postgres:hunter2@'
        { Get-DlsServer -StorePath $withPassword -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidStoreUri*'
        try { Get-DlsServer -StorePath $withPassword -ErrorAction Stop } catch { $_.Exception.Message | Should -Not -Match 'hunter2' }
    }

    It 'says StoreNotFound for a database without a DLS store, and changes nothing there' {
        $empty = $Uri -replace '/dls$', '/postgres'
        { Get-DlsServer -StorePath $empty -ErrorAction Stop } | Should -Throw -ErrorId 'StoreNotFound*'
        # Had the first look made DLS tables there, this one would find a store (and no server in it) instead.
        { Get-DlsLicense -StorePath $empty -ErrorAction Stop } | Should -Throw -ErrorId 'StoreNotFound*'
    }
}
