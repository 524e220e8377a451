BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

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
            $null = $command.ExecuteNonQuery()
            $command.Dispose()
        } finally { $connection.Dispose() }
    }

    # Runs $Command in a new pwsh (optionally started through $Prefix, e.g. unshare) that imported the module, catches
    # what it throws and returns what a script would look at: the error id, category, exception type, and whether
    # the command was stopped (terminating) or went on.
    function Invoke-Failing([string] $Command, [string] $StorePath, [string[]] $Prefix = @(), [hashtable] $Environment = @{}) {
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($script:ModuleManifest)'
`$StorePath = '$StorePath'
`$after = `$false
try {
    `$null = & { $Command }
    `$after = `$true
    `$result = @{ Failed = `$false }
} catch {
    `$result = @{
        Failed                = `$true
        FullyQualifiedErrorId = `$_.FullyQualifiedErrorId
        Category              = `$_.CategoryInfo.Category.ToString()
        ExceptionType         = `$_.Exception.GetType().FullName
        Message               = `$_.Exception.Message
        InnerType             = if (`$_.Exception.InnerException) { `$_.Exception.InnerException.GetType().FullName } else { '' }
    }
}
`$result.RanOn = `$after
`$result | ConvertTo-Json -Compress
"@
        $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
        $saved = @{}
        foreach ($name in $Environment.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $Environment[$name]) }
        try {
            $line = [System.Collections.Generic.List[string]]::new()
            foreach ($part in $Prefix) { $line.Add($part) }
            $line.Add([Environment]::ProcessPath)
            if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $line.Add((Join-Path $PSHOME 'pwsh.dll')) }
            foreach ($part in '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded) { $line.Add($part) }
            $rest = $line.GetRange(1, $line.Count - 1).ToArray()
            $output = & $line[0] @rest 2>&1
        } finally {
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
        if ($LASTEXITCODE -ne 0) { throw "The session failed: $($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }

    # A second process that holds the store's write lock (BEGIN EXCLUSIVE) until its standard input closes.
    function Start-LockHolder([string] $StorePath) {
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($script:ModuleManifest)'
`$null = Get-DlsServer -StorePath '$StorePath'
`$context = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -EQ 'DLS'
`$type = `$context.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('Microsoft.Data.Sqlite')).GetType('Microsoft.Data.Sqlite.SqliteConnection', `$true)
`$connection = `$type::new('Data Source=$StorePath;Pooling=False')
`$connection.Open()
`$command = `$connection.CreateCommand()
`$command.CommandText = 'BEGIN EXCLUSIVE;'
`$null = `$command.ExecuteNonQuery()
[Console]::Out.WriteLine('locked')
[Console]::Out.Flush()
`$null = [Console]::In.ReadToEnd()
`$command.CommandText = 'ROLLBACK;'
`$null = `$command.ExecuteNonQuery()
`$connection.Dispose()
"@
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-EncodedCommand', [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))) {
            $start.ArgumentList.Add($argument)
        }
        $start.RedirectStandardInput = $true; $start.RedirectStandardOutput = $true; $start.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($start)
        $line = $process.StandardOutput.ReadLineAsync()
        if (-not $line.Wait(60000) -or $line.Result -ne 'locked') {
            Stop-LockHolder $process
            throw "The lock holder did not take the lock (it said '$($line.Result)')."
        }
        $process
    }

    function Stop-LockHolder($Process) {
        if ($Process -and -not $Process.HasExited) {
            $Process.StandardInput.Close()
            if (-not $Process.WaitForExit(30000)) { $Process.Kill($true); $null = $Process.WaitForExit(10000) }
        }
    }

    # As root, permission bits do not stop writes. In a new user namespace without a mapping, the process keeps
    # owning its files but loses the capability to override their permissions: then a 0444 file is read-only to it,
    # exactly as it is to an ordinary user.
    $script:IsRoot = -not $IsWindows -and (id -u) -eq '0'
    $script:ReadOnlyPrefix = @()
    $script:ReadOnlySkip = $null
    if ($IsWindows) {
        $script:ReadOnlySkip = 'the read-only case uses Unix permission bits'
    } elseif ($IsRoot) {
        $unshare = Get-Command unshare -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        $probe = if ($unshare) { & $unshare.Source -U sh -c 'test "$(id -u)" != 0 && echo ok' 2>$null } else { $null }
        if ($probe -eq 'ok') { $script:ReadOnlyPrefix = @($unshare.Source, '-U') }
        else { $script:ReadOnlySkip = 'running as root, where permission bits do not stop writes, and unshare -U (to drop that power) is not available' }
    }
}

Describe 'Store failures reach the user as DLS errors' {
    BeforeEach {
        $script:StorePath = New-TestStorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
        $null = New-DlsHandshakeCode -StorePath $StorePath -Name alpha
    }

    AfterEach {
        if (-not $IsWindows -and (Test-Path $StorePath)) { chmod 0600 $StorePath }
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'gives StoreBusy, terminating, when another process holds the write lock, and changes nothing' {
        $before = Get-StoreFiles $StorePath
        $holder = Start-LockHolder $StorePath
        try {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $failure = Invoke-Failing -StorePath $StorePath -Environment @{ DLS_BUSY_TIMEOUT_SECONDS = '2' } `
                -Command 'New-DlsHandshakeCode -StorePath $StorePath -Name gamma'
            $clock.Stop()
        } finally { Stop-LockHolder $holder }

        $failure.Failed | Should -BeTrue
        $failure.FullyQualifiedErrorId | Should -BeLike 'StoreBusy,*'
        $failure.ExceptionType | Should -Be 'Dls.Core.Errors.DlsException'
        $failure.Category | Should -Be 'ResourceUnavailable'
        $failure.Message | Should -Match 'locked by another process'
        # The lowered timeout was honoured (30 s otherwise), so the variable the docs describe works.
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 25
        @(Get-DlsHandshakeCode -StorePath $StorePath | ForEach-Object Code) | Should -Be @('216998-alpha')
        Get-StoreFiles $StorePath | Should -Be $before
    }

    It 'gives StoreReadOnly, terminating, for a store file this user cannot write' {
        if ($ReadOnlySkip) { Set-ItResult -Skipped -Because $ReadOnlySkip; return }
        $before = Get-StoreFiles $StorePath
        chmod 0444 $StorePath

        $failure = Invoke-Failing -StorePath $StorePath -Prefix $ReadOnlyPrefix -Command 'New-DlsHandshakeCode -StorePath $StorePath -Name gamma'

        $failure.FullyQualifiedErrorId | Should -BeLike 'StoreReadOnly,*'
        $failure.ExceptionType | Should -Be 'Dls.Core.Errors.DlsException'
        $failure.Category | Should -Be 'PermissionDenied'
        $failure.RanOn | Should -BeFalse
        chmod 0600 $StorePath
        @(Get-DlsHandshakeCode -StorePath $StorePath | ForEach-Object Code) | Should -Be @('216998-alpha')
        (Get-StoreFiles $StorePath)[0] | Should -Be $before[0]
    }

    It 'gives StoreCorrupt, terminating, for a file of garbage and leaves it as it was' {
        $bytes = [byte[]]::new(65536)
        [System.Random]::new(7).NextBytes($bytes)
        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        Remove-Item -Force "$StorePath-wal", "$StorePath-shm" -ErrorAction SilentlyContinue
        [System.IO.File]::WriteAllBytes($StorePath, $bytes)

        foreach ($command in 'Get-DlsServer -StorePath $StorePath', 'New-DlsHandshakeCode -StorePath $StorePath -Name gamma') {
            $failure = Invoke-Failing -StorePath $StorePath -Command $command
            $failure.FullyQualifiedErrorId | Should -BeLike 'StoreCorrupt,*' -Because $command
            $failure.ExceptionType | Should -Be 'Dls.Core.Errors.DlsException'
            $failure.Category | Should -Be 'InvalidData'
            $failure.Message | Should -Match 'Restore-DlsStore'
        }
        [System.IO.File]::ReadAllBytes($StorePath) | Should -Be $bytes
    }

    It 'gives StoreCorrupt for a truncated store' {
        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        "$StorePath-wal" | Should -Not -Exist -Because 'the whole store is in the main file once every connection is closed'
        $stream = [System.IO.File]::Open($StorePath, 'Open', 'ReadWrite')
        try { $stream.SetLength(3 * 4096) } finally { $stream.Dispose() }

        $failure = Invoke-Failing -StorePath $StorePath -Command 'Get-DlsHandshakeCode -StorePath $StorePath; Get-DlsServer -StorePath $StorePath'
        $failure.FullyQualifiedErrorId | Should -BeLike 'StoreCorrupt,*'
        $failure.ExceptionType | Should -Be 'Dls.Core.Errors.DlsException'
    }

    It 'turns a failure DLS did not foresee into UnexpectedError, not a bare .NET exception' {
        # A hand-edited audit log: core has no rule for a time that is not a time.
        Invoke-Sql $StorePath "UPDATE audit_log SET time = 'not a time';"

        $failure = Invoke-Failing -StorePath $StorePath -Command 'Get-DlsAuditLog -StorePath $StorePath'
        $failure.FullyQualifiedErrorId | Should -BeLike 'UnexpectedError,*'
        $failure.Category | Should -Be 'NotSpecified'
        $failure.ExceptionType | Should -Be 'Dls.Core.Errors.DlsException'
        $failure.InnerType | Should -Be 'System.FormatException'
        $failure.Message | Should -Match 'report it'
    }
}

Describe 'docs/errors.md' {
    It 'explains every ErrorId DLS raises' {
        $source = Get-Content -Raw (Join-Path $PSScriptRoot '../../core/Errors/ErrorIds.cs')
        $ids = [regex]::Matches($source, 'public const string (\w+) = nameof\(\1\);') | ForEach-Object { $_.Groups[1].Value }
        $ids.Count | Should -BeGreaterThan 50
        $documented = [regex]::Matches((Get-Content -Raw (Join-Path $PSScriptRoot '../../docs/errors.md')), '(?m)^\| `(\w+)` \|') | ForEach-Object { $_.Groups[1].Value }
        $ids | Where-Object { $_ -notin $documented } | Should -BeNullOrEmpty -Because 'every constant in core/Errors/ErrorIds.cs needs a row in docs/errors.md'
        $documented | Where-Object { $_ -notin $ids } | Should -BeNullOrEmpty -Because 'docs/errors.md lists only ids that exist'
    }
}
