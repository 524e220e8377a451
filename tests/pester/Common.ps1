# Dot-sourced by every *.Tests.ps1: where the built module is, and helpers that act as a user would.
$script:ModuleFolder = if ($env:DLS_MODULE_PATH) { $env:DLS_MODULE_PATH } else { Join-Path $PSScriptRoot '../../out/DLS' }
$script:ModuleManifest = Join-Path $script:ModuleFolder 'DLS.psd1'

function New-TestStorePath {
    $folder = Join-Path ([System.IO.Path]::GetTempPath()) ("dls-pester-" + [guid]::NewGuid().ToString('N'))
    Join-Path $folder 'dls.db'
}

function Get-FreePort {
    $socket = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $socket.Start()
    try { $socket.LocalEndpoint.Port } finally { $socket.Stop() }
}

# Polls $Condition until it is true or $TimeoutSeconds pass; returns whether it became true. Tests wait for the
# thing itself, never for a guessed time.
function Wait-Until([scriptblock] $Condition, [double] $TimeoutSeconds = 10) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $late = [DateTime]::UtcNow -ge $deadline
        if (& $Condition) { return $true }
        if ($late) { return $false }
        Start-Sleep -Milliseconds 25
    }
}

function Test-PortOpen([int] $Port) {
    $client = [System.Net.Sockets.TcpClient]::new()
    try { $client.Connect([System.Net.IPAddress]::Loopback, $Port); $true } catch { $false } finally { $client.Dispose() }
}

# Runs a script in a new pwsh process (a second administrator's session) that has imported the built
# module, and returns its output converted from JSON. The script gets $StorePath and $Arg.
# Runs a child PowerShell of the same build as this one (`dotnet pwsh` from the tool manifest, else pwsh) and returns
# its output with errors merged; $LASTEXITCODE is the child's.
function Invoke-ChildPwsh([string] $EncodedCommand) {
    $pwshDll = Join-Path $PSHOME 'pwsh.dll'
    if ((Test-Path $pwshDll) -and [System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        & ([Environment]::ProcessPath) $pwshDll -NoProfile -NonInteractive -EncodedCommand $EncodedCommand 2>&1
    } else {
        & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -EncodedCommand $EncodedCommand 2>&1
    }
}

function Invoke-FreshSession([string] $Script, [string] $StorePath, $Arg) {
    $wrapper = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($script:ModuleManifest)'
`$StorePath = '$StorePath'
`$Arg = '$Arg'
`$result = & { $Script }
ConvertTo-Json -InputObject @(`$result) -Depth 5 -Compress -EnumsAsStrings
"@
    $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($wrapper))
    $output = Invoke-ChildPwsh -EncodedCommand $encoded
    if ($LASTEXITCODE -ne 0) { throw "The fresh session failed: $($output -join "`n")" }
    ($output | Select-Object -Last 1) | ConvertFrom-Json
}

# A real SMTP server (tests/SmtpSink, built with the solution) on 127.0.0.1; it writes each message as an .eml file.
function Start-SmtpSink([int] $Port, [string] $Folder) {
    $dll = Get-ChildItem (Join-Path $PSScriptRoot '../SmtpSink/bin') -Recurse -Filter SmtpSink.dll | Sort-Object LastWriteTimeUtc -Descending | Select-Object -First 1
    if (-not $dll) { throw 'tests/SmtpSink is not built: run ./build.ps1 build.' }
    $start = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $start.ArgumentList.Add($dll.FullName); $start.ArgumentList.Add("$Port"); $start.ArgumentList.Add($Folder)
    $start.RedirectStandardInput = $true; $start.RedirectStandardOutput = $true; $start.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($start)
    $null = Wait-Until { $process.HasExited -or (Test-PortOpen $Port) } -TimeoutSeconds 20
    if ($process.HasExited -or -not (Test-PortOpen $Port)) { throw 'The SMTP sink did not start.' }
    $process
}

function Stop-SmtpSink($Process) {
    if ($Process -and -not $Process.HasExited) {
        $Process.StandardInput.Close()
        if (-not $Process.WaitForExit(5000)) { Stop-Process -Id $Process.Id -Force }
    }
}

# The module keeps Dls.Core and its libraries (SQLite, MailKit, …) in its own load context (module/Init), which
# PowerShell's [type] names do not reach. A test that reaches into the store as another tool would, or that uses
# a core helper, takes the type from there: (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools().
function Get-ModuleType([string] $Name) {
    $context = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -EQ 'DLS' | Select-Object -First 1
    if (-not $context) { throw 'The DLS module''s load context does not exist: import the module first.' }
    $assemblyName = if ($Name -like 'Dls.Core.*') { 'Dls.Core' } else { ($Name -split '\.')[0..(($Name -split '\.').Count - 2)] -join '.' }
    $type = $context.LoadFromAssemblyName([System.Reflection.AssemblyName]::new($assemblyName)).GetType($Name, $true)
    $type
}

# A new store of organization 216998 that trusts a test vendor and holds one license of $Item (hashtables as
# New-DlsLicenseFile takes them), imported into the new handshake code 'a'. Returns the store's path.
function New-LicensedTestStore([string] $LicenseId, [hashtable[]] $Item) {
    $storePath = New-TestStorePath
    $folder = Split-Path $storePath
    $server = Initialize-DlsServer -StorePath $storePath -OrganizationId 216998
    New-DlsIssuerKey -Path (Join-Path $folder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Vendor' -StorePath $storePath | Out-Null
    $file = Join-Path $folder "$LicenseId.dlslicense"
    $server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId $LicenseId -IssuerKeyPath (Join-Path $folder 'vendor.key') -Path $file -Item $Item | Out-Null
    Import-DlsLicense -StorePath $storePath -Path $file -NewHandshakeCode a | Out-Null
    $storePath
}

# POSTs $Body as JSON to the listener at $Url and returns the parsed answer; anything but 200 throws with the answer.
function Send-DlsPost([string] $Url, [string] $Path, [hashtable] $Body) {
    $response = Invoke-WebRequest -Uri "$($Url.TrimEnd('/'))/$Path" -Method Post -ContentType 'application/json' -Body ($Body | ConvertTo-Json -Depth 6) -SkipHttpErrorCheck
    if ($response.StatusCode -ne 200) { throw "$Path answered $($response.StatusCode): $($response.Content)" }
    $response.Content | ConvertFrom-Json
}

# The folder of PostgreSQL's initdb/pg_ctl (PATH, else Debian's newest /usr/lib/postgresql/*/bin), or $null.
function Find-PostgresBinaries {
    $initdb = Get-Command initdb -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($initdb) {
        $real = (Get-Item $initdb.Source).ResolvedTarget
        return Split-Path ($real ? $real : $initdb.Source)
    }
    Get-ChildItem /usr/lib/postgresql/*/bin/initdb -ErrorAction SilentlyContinue |
        Sort-Object { [version]($_.Directory.Parent.Name + '.0') } -Descending | Select-Object -First 1 | ForEach-Object { $_.DirectoryName }
}

# A throwaway PostgreSQL cluster on 127.0.0.1 (as the postgres user when the tests run as root), for the tests of a
# store named by a postgresql:// URI. Returns an object with Uri (of a new database) and Folder; Stop-TestPostgres removes it.
function Start-TestPostgres([string] $Database = 'dls') {
    $bin = Find-PostgresBinaries
    if (-not $bin) { throw 'PostgreSQL is not installed.' }
    $root = (id -u) -eq '0'
    $folder = Join-Path ($root ? '/tmp' : [System.IO.Path]::GetTempPath()) ('dls-pg-pester-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    New-Item -ItemType Directory $folder | Out-Null
    if ($root) { chown postgres: $folder }
    $as = { param($tool, [string[]] $arguments) if ($root) { & runuser -u postgres -- (Join-Path $bin $tool) @arguments } else { & (Join-Path $bin $tool) @arguments } }
    & $as initdb @('-D', "$folder/data", '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync') | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "initdb failed in $folder" }
    $port = Get-FreePort
    & $as pg_ctl @('-D', "$folder/data", '-l', "$folder/server.log", '-w', '-t', '60', '-o', "-p $port -k $folder -c listen_addresses=127.0.0.1 -c fsync=off", 'start') | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "PostgreSQL did not start: $(Get-Content -Raw "$folder/server.log")" }
    & (Join-Path $bin 'createdb') -h 127.0.0.1 -p $port -U postgres $Database
    if ($LASTEXITCODE -ne 0) { throw "createdb $Database failed" }
    [pscustomobject]@{ Uri = "postgresql://postgres@127.0.0.1:$port/$Database"; Folder = $folder; Bin = $bin; Root = $root }
}

function Stop-TestPostgres($Cluster) {
    if (-not $Cluster) { return }
    if ($Cluster.Root) { runuser -u postgres -- (Join-Path $Cluster.Bin 'pg_ctl') -D "$($Cluster.Folder)/data" -m immediate -w stop | Out-Null }
    else { & (Join-Path $Cluster.Bin 'pg_ctl') -D "$($Cluster.Folder)/data" -m immediate -w stop | Out-Null }
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Cluster.Folder
}
