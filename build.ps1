<#
.SYNOPSIS
    Builds, tests and runs DLS.
.DESCRIPTION
    build  compiles the solution and lays out the module in out/DLS (DLS.psd1, DLS.dll, help, formats; Dls.Core
           and its libraries, SQLite for every platform among them, in out/DLS/Dependencies; and the listener
           in out/DLS/listener), and packs the client library into out/packages/DLS.Client.<version>.nupkg.
    test   builds, runs the xunit tests and the Pester tests (in a fresh pwsh against out/DLS), and ends
           with one line 'N passed, N failed'; skipped tests (neither) are listed with their reasons just
           before it. Among the xunit tests, tests/Dls.Client.Package (outside the solution, restored and built
           by this task) takes DLS.Client as the package from out/packages, not as a project, and authorizes
           against a listener process. Where PostgreSQL is installed, the store tests of Dls.Core.Tests run a
           second time on it (DLS_TEST_ENGINE=postgresql, a throwaway cluster the tests start and remove), but
           for those about SQLite files (trait Engine=sqlite); where it is not, that pass is reported as skipped.
           Exits non-zero when anything fails.
    run    builds, initializes the default store if there is none, and runs the listener in the foreground
           at http://127.0.0.1:48080 (Ctrl+C stops it).
    clean  removes out/ and every bin/ and obj/.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'run', 'clean')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # run: the store to serve (default: $env:DLS_STORE, else the platform default).
    [string] $StorePath,

    # run: where the listener listens.
    [string] $Url = 'http://127.0.0.1:48080',

    # test: only Pester files whose name matches (e.g. 'Listener').
    [string] $PesterFilter = '*'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'DLS'
$packagesOut = Join-Path $out 'packages'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'

# The version every project is built with (Directory.Build.props), which names the client's package.
function Get-Version {
    ([xml] (Get-Content -Raw -LiteralPath (Join-Path $root 'Directory.Build.props'))).SelectSingleNode('/Project/PropertyGroup/Version').InnerText
}

function Invoke-Native([string] $what, [scriptblock] $command) {
    & $command
    if ($LASTEXITCODE -ne 0) { throw "$what failed (exit code $LASTEXITCODE)." }
}

function Invoke-Build {
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $root 'DLS.sln') -c $Configuration --nologo -v:q -clp:ErrorsOnly }
    if (Test-Path $moduleOut) { Remove-Item -Recurse -Force $moduleOut }
    Invoke-Native 'publish module' { dotnet publish (Join-Path $root 'module/DLS.Module.csproj') -c $Configuration --no-build -o $moduleOut --nologo -v:q }
    Move-ModuleDependency
    Invoke-Native 'publish listener' { dotnet publish (Join-Path $root 'listener/Dls.Listener.csproj') -c $Configuration --no-build -o (Join-Path $moduleOut 'listener') --nologo -v:q }
    # Help is generated in a child pwsh: a binary module cannot be unloaded from this one.
    $helpFile = Join-Path $moduleOut 'en-US/DLS.dll-Help.xml'
    Invoke-Native 'help' { dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'tools/Build-Help.ps1') -ModulePath (Join-Path $moduleOut 'DLS.psd1') -DocsPath (Join-Path $root 'docs/cmdlets') -OutputPath $helpFile }
    # The package an SDK takes (issue 13); tests/Dls.Client.Package restores it from here. Emptied first so the
    # folder holds only this build's package, never one of an older version.
    if (Test-Path $packagesOut) { Remove-Item -Recurse -Force $packagesOut }
    Invoke-Native 'pack client' { dotnet pack (Join-Path $root 'client/Dls.Client.csproj') -c $Configuration --no-build -o $packagesOut --nologo -v:q }
    Write-Host "Module built: $moduleOut"
    Write-Host "Client package: $(Join-Path $packagesOut "DLS.Client.$(Get-Version).nupkg")"
}

# The module's layout: DLS.psd1, DLS.Init.dll (sets up the load context), DLS.dll (the cmdlets), formats and help at the top; Dls.Core
# and every library it uses (SQLite for every platform, MailKit, …) in Dependencies/, which the module loads into its
# own AssemblyLoadContext (module/Loading) so other modules' versions of the same libraries do not collide with them.
function Move-ModuleDependency {
    $top = 'DLS.psd1', 'DLS.dll', 'DLS.pdb', 'DLS.Init.dll', 'DLS.Init.pdb', 'DLS.Format.ps1xml', 'en-US', 'listener'
    $dependencies = Join-Path $moduleOut 'Dependencies'
    $null = New-Item -ItemType Directory -Force $dependencies
    # The deps file describes DLS.dll as an application; nothing reads it for a module.
    Remove-Item -Force -ErrorAction SilentlyContinue (Join-Path $moduleOut 'DLS.deps.json')
    foreach ($item in Get-ChildItem -LiteralPath $moduleOut | Where-Object { $_.Name -notin $top -and $_.FullName -ne $dependencies }) {
        Move-Item -LiteralPath $item.FullName -Destination $dependencies
    }
}

function Get-TrxCounts([string] $folder) {
    $passed = 0; $failed = 0; $skipped = @()
    foreach ($file in Get-ChildItem -Path $folder -Filter *.trx -Recurse -ErrorAction SilentlyContinue) {
        [xml] $trx = Get-Content -Raw -LiteralPath $file.FullName
        $counters = $trx.TestRun.ResultSummary.Counters
        $passed += [int] $counters.passed
        $failed += [int] $counters.failed + [int] $counters.error + [int] $counters.timeout + [int] $counters.aborted
        # A skipped test is neither passed nor failed; the TRX counters leave it out, its result says why.
        # A run that found no tests (Dls.Client.Tests while it holds only a placeholder) writes no Results element,
        # which strict mode will not let a property path step through: the results are looked up by name instead.
        foreach ($result in @($trx.SelectNodes("//*[local-name()='UnitTestResult'][@outcome='NotExecuted']"))) {
            $skipped += "$($result.testName): $($result.Output.ErrorInfo.Message)"
        }
    }
    [pscustomobject]@{ Passed = $passed; Failed = $failed; Skipped = $skipped }
}

# Where the PostgreSQL pass of the store tests can run: the folder of initdb, pg_ctl and postgres, found as
# tests/Shared/TestPostgres.cs finds them (DLS_TEST_POSTGRES_BIN, else initdb on PATH, else the newest
# /usr/lib/postgresql/*/bin), or why not.
function Find-PostgresBinary {
    $exe = if ($IsWindows) { '.exe' } else { '' }
    $folder = $null
    if ($env:DLS_TEST_POSTGRES_BIN -eq 'none') {
        return [pscustomobject]@{ Folder = $null; Problem = 'PostgreSQL''s binaries are hidden (DLS_TEST_POSTGRES_BIN=none)' }
    }
    elseif ($env:DLS_TEST_POSTGRES_BIN) {
        $folder = $env:DLS_TEST_POSTGRES_BIN
    }
    elseif ($initdb = Get-Command "initdb$exe" -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1) {
        # A link such as /usr/local/bin/initdb leads to the server's own bin folder, where pg_ctl and postgres sit too.
        $target = [System.IO.File]::ResolveLinkTarget($initdb.Source, $true)
        $folder = Split-Path -Parent $(if ($target) { $target.FullName } else { $initdb.Source })
    }
    elseif (Test-Path /usr/lib/postgresql) {
        $folder = Get-ChildItem /usr/lib/postgresql -Directory |
            Where-Object { $_.Name -as [decimal] -ne $null -and (Test-Path (Join-Path $_.FullName 'bin/initdb')) } |
            Sort-Object { [decimal] $_.Name } -Descending | Select-Object -First 1 |
            ForEach-Object { Join-Path $_.FullName 'bin' }
    }
    if (-not $folder) {
        return [pscustomobject]@{ Folder = $null; Problem = 'PostgreSQL is not installed (apt-get install postgresql)' }
    }
    foreach ($tool in 'initdb', 'pg_ctl', 'postgres') {
        if (-not (Test-Path (Join-Path $folder "$tool$exe"))) {
            return [pscustomobject]@{ Folder = $null; Problem = "PostgreSQL is incomplete: no $tool in $folder" }
        }
    }
    # PostgreSQL refuses to run as root: under root the tests run it as the postgres user, which Debian's package creates.
    if (-not $IsWindows -and (id -u) -eq '0' -and -not (Select-String -Path /etc/passwd -Pattern '^postgres:' -Quiet)) {
        return [pscustomobject]@{ Folder = $null; Problem = 'the tests run as root and there is no postgres user to run PostgreSQL as' }
    }
    [pscustomobject]@{ Folder = $folder; Problem = $null }
}

function Invoke-Test {
    Invoke-Build
    $results = Join-Path $out 'test-results'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    $null = New-Item -ItemType Directory -Force $results
    $env:DLS_MODULE_PATH = $moduleOut
    $env:DLS_LISTENER_PATH = Join-Path $moduleOut 'listener/Dls.Listener.dll'

    $xunitFailedToRun = $false
    foreach ($project in Get-ChildItem (Join-Path $root 'tests') -Recurse -Filter *.Tests.csproj) {
        $name = $project.BaseName
        Write-Host "== xunit: $name"
        dotnet test $project.FullName -c $Configuration --no-build --nologo `
            --logger "trx;LogFileName=$name.trx" --logger 'console;verbosity=minimal' --results-directory $results
        if ($LASTEXITCODE -ne 0 -and -not (Test-Path (Join-Path $results "$name.trx"))) { $xunitFailedToRun = $true }
    }
    # The store tests once more on PostgreSQL (a throwaway cluster the tests start), but for those about SQLite files.
    $postgres = Find-PostgresBinary
    $postgresSkipped = @()
    $core = Join-Path $root 'tests/Dls.Core.Tests/Dls.Core.Tests.csproj'
    $engineFilter = 'Engine!=sqlite'
    if ($postgres.Folder) {
        Write-Host "== xunit: Dls.Core.Tests on PostgreSQL ($($postgres.Folder))"
        $env:DLS_TEST_ENGINE = 'postgresql'
        try {
            dotnet test $core -c $Configuration --no-build --nologo --filter $engineFilter `
                --logger 'trx;LogFileName=Dls.Core.Tests.postgresql.trx' --logger 'console;verbosity=minimal' --results-directory $results
            if ($LASTEXITCODE -ne 0 -and -not (Test-Path (Join-Path $results 'Dls.Core.Tests.postgresql.trx'))) { $xunitFailedToRun = $true }
        }
        finally {
            Remove-Item Env:DLS_TEST_ENGINE
        }
    }
    else {
        $count = @(dotnet test $core -c $Configuration --no-build --nologo --list-tests --filter $engineFilter | Where-Object { $_ -match '^\s{4}\S' }).Count
        $postgresSkipped = @("the PostgreSQL pass of Dls.Core.Tests ($count tests): $($postgres.Problem)")
    }
    # DLS.Client as a package (issue 13): out/packages' nupkg, restored and built here, after every --no-build pass
    # above, since building it builds Dls.Core again. Its own packages folder loses dls.client first: NuGet never
    # replaces a package it holds under the same version, so a rebuilt 0.1.0 would otherwise go untested.
    $packageTest = Join-Path $root 'tests/Dls.Client.Package/Dls.Client.PackageTests.csproj'
    $packageCache = Join-Path $root 'tests/Dls.Client.Package/obj/packages/dls.client'
    if (Test-Path $packageCache) { Remove-Item -Recurse -Force $packageCache }
    Write-Host '== xunit: Dls.Client.PackageTests (DLS.Client from out/packages)'
    dotnet test $packageTest -c $Configuration --nologo `
        --logger 'trx;LogFileName=Dls.Client.PackageTests.trx' --logger 'console;verbosity=minimal' --results-directory $results
    # A restore or build that fails (no package, say) leaves no results: one failure, not silence.
    $packageFailedToRun = $LASTEXITCODE -ne 0 -and -not (Test-Path (Join-Path $results 'Dls.Client.PackageTests.trx'))
    if ($packageFailedToRun) { Write-Host 'Dls.Client.PackageTests did not run: its restore or build failed (above).' }
    $xunit = Get-TrxCounts $results

    Write-Host '== Pester'
    Invoke-Native 'Pester restore' { dotnet restore (Join-Path $root 'tests/pester/Pester.Restore.csproj') --nologo -v:q }
    # Other versions of the module's dependencies, which tests/pester/Conflicts.Tests.ps1 loads before the module.
    Invoke-Native 'Conflicts restore' { dotnet restore (Join-Path $root 'tests/pester/Conflicts.Restore.csproj') --nologo -v:q }
    $pesterResult = Join-Path $results 'pester.json'
    # The filter travels in the environment: pwsh on Unix would expand a bare '*' argument into file names.
    $env:DLS_PESTER_FILTER = $PesterFilter
    dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'tests/pester/Invoke-Pester.ps1') -ModulePath $moduleOut -ResultPath $pesterResult
    $pester = if (Test-Path $pesterResult) { Get-Content -Raw $pesterResult | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = @() } }

    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed + [int] $xunitFailedToRun + [int] $packageFailedToRun
    $skipped = @($xunit.Skipped) + @($pester.Skipped | Where-Object { $_ })
    Write-Host ''
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed; Pester: $($pester.Passed) passed, $($pester.Failed) failed"
    if ($skipped.Count -gt 0) {
        Write-Host "$($skipped.Count) skipped (neither passed nor failed):"
        $skipped | ForEach-Object { Write-Host "  $_" }
    }
    # A whole pass left out counts its tests as skipped too, neither passed nor failed.
    $postgresSkipped | ForEach-Object { Write-Host "skipped $_" }
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

function Invoke-Run {
    Invoke-Build
    $store = if ($StorePath) { [System.IO.Path]::GetFullPath($StorePath) } else { $null }
    $init = Join-Path $out 'run-init.ps1'
    @'
param($ModulePath, $StorePath)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath
$splat = @{}
if ($StorePath) { $splat.StorePath = $StorePath }
$server = Initialize-DlsServer @splat
"$($server.Uuid)`t$($server.StorePath)"
'@ | Set-Content -LiteralPath $init
    $initArgs = @('-ModulePath', (Join-Path $moduleOut 'DLS.psd1'))
    if ($store) { $initArgs += @('-StorePath', $store) }
    $line = dotnet pwsh -NoProfile -NonInteractive -File $init @initArgs
    if ($LASTEXITCODE -ne 0) { throw "Initializing the store failed: $line" }
    $uuid, $path = "$line".Trim() -split "`t"
    Write-Host ''
    Write-Host "DLS server UUID: $uuid"
    Write-Host "Store:           $path"
    Write-Host "Listening on:    $Url/   (Ctrl+C stops)"
    Write-Host ''
    dotnet (Join-Path $moduleOut 'listener/Dls.Listener.dll') --store $path --urls $Url
    exit $LASTEXITCODE
}

switch ($Task) {
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'run' { Invoke-Run }
    'clean' {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $out
        Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    }
}
