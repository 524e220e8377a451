BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    # Every file of the store (dls.db and any -wal/-shm beside it) with its hash, once this session holds no connection.
    function Get-StoreFiles([string] $Path) {
        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        @(Get-ChildItem -LiteralPath (Split-Path $Path) -Filter 'dls.db*' | Sort-Object Name |
            ForEach-Object { $_.Name + ':' + (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash })
    }

    function Invoke-Sql([string] $Path, [string] $Sql) {
        $connection = (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::new("Data Source=$Path;Pooling=False")
        $connection.Open()
        try {
            $command = $connection.CreateCommand()
            $command.CommandText = $Sql
            $command.ExecuteScalar()
            $command.Dispose()
        } finally { $connection.Dispose() }
    }

    # What a user gets pressing Tab after $InputScript, in a new pwsh that imported the module (a fresh session holds
    # no connection of its own, as a user's would not).
    function Get-Completion([string] $StorePath, [string] $InputScript) {
        @(Invoke-FreshSession -StorePath $StorePath -Arg $InputScript -Script {
                @((TabExpansion2 -inputScript $Arg -cursorColumn $Arg.Length).CompletionMatches | ForEach-Object CompletionText)
            } | Where-Object { $_ })
    }

    function New-CodeStore {
        $path = New-TestStorePath
        $null = Initialize-DlsServer -StorePath $path -OrganizationId 216998
        $null = New-DlsHandshakeCode -StorePath $path -Name alpha
        $null = New-DlsHandshakeCode -StorePath $path -Name beta
        $path
    }
}

Describe 'Tab completion from the store' {
    AfterEach {
        if ($StorePath) { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath) }
    }

    It 'completes handshake codes from a current store and leaves it byte for byte as it was' {
        $script:StorePath = New-CodeStore
        $before = Get-StoreFiles $StorePath

        Get-Completion $StorePath "Get-DlsHandshakeCode -StorePath $StorePath -Code 216998-a" | Should -Be @('216998-alpha')
        @(Get-Completion $StorePath "Get-DlsHandshakeCode -StorePath $StorePath -Code ") | Sort-Object | Should -Be @('216998-alpha', '216998-beta')

        Get-StoreFiles $StorePath | Should -Be $before
    }

    It 'completes nothing from a store with an older schema, and neither migrates nor touches it' {
        $script:StorePath = New-CodeStore
        # The store as the build before migration 70 left it: its tables gone, its ledger row gone, user_version back.
        $null = Invoke-Sql $StorePath @'
DROP TABLE client_grant; DROP TABLE server_setting; DROP TABLE feature_name;
DELETE FROM schema_migration WHERE version = 70;
PRAGMA user_version = 64;
'@
        $before = Get-StoreFiles $StorePath
        $bytes = [System.IO.File]::ReadAllBytes($StorePath)

        Get-Completion $StorePath "Get-DlsHandshakeCode -StorePath $StorePath -Code 216998-" | Should -BeNullOrEmpty

        [System.IO.File]::ReadAllBytes($StorePath) | Should -Be $bytes
        Get-StoreFiles $StorePath | Should -Be $before
        Invoke-Sql $StorePath 'SELECT count(*) FROM schema_migration WHERE version = 70;' | Should -Be 0
    }

    It 'creates no store where there is none' {
        $script:StorePath = New-TestStorePath
        Get-Completion $StorePath "Get-DlsHandshakeCode -StorePath $StorePath -Code 2" | Should -BeNullOrEmpty
        Split-Path $StorePath | Should -Not -Exist
    }

    It 'completes nothing, quickly, from a file that is not a store' {
        $script:StorePath = New-TestStorePath
        $null = New-Item -ItemType Directory -Force (Split-Path $StorePath)
        [System.IO.File]::WriteAllBytes($StorePath, [byte[]] (1..4096 | ForEach-Object { $_ % 251 }))
        $bytes = [System.IO.File]::ReadAllBytes($StorePath)

        Get-Completion $StorePath "Get-DlsHandshakeCode -StorePath $StorePath -Code 2" | Should -BeNullOrEmpty
        [System.IO.File]::ReadAllBytes($StorePath) | Should -Be $bytes
    }
}
