<#
.SYNOPSIS
    Runs the Pester tests against the built module in this (fresh) pwsh and writes {Passed, Failed, Skipped} to
    -ResultPath (Skipped: each skipped test with its reason).
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [string] $Filter = ($env:DLS_PESTER_FILTER ?? '*')
)
$ErrorActionPreference = 'Stop'
$packages = (dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
Import-Module (Join-Path $packages.Trim() 'pester/5.7.1/tools/Pester.psd1') -Force
$env:DLS_MODULE_PATH = $ModulePath

$configuration = New-PesterConfiguration
$configuration.Run.Path = @(Get-ChildItem -Path $PSScriptRoot -Filter "$Filter.Tests.ps1" | ForEach-Object FullName)
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$configuration.TestResult.Enabled = $false
$result = Invoke-Pester -Configuration $configuration
# A skipped test is neither passed nor failed; Set-ItResult -Skipped -Because records why in its ErrorRecord.
$skipped = @($result.Skipped | ForEach-Object {
    $reason = @($_.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join '; '
    "$($_.ExpandedPath): $(if ($reason) { $reason } else { 'skipped' })"
})
@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount; Skipped = $skipped } |
    ConvertTo-Json | Set-Content -LiteralPath $ResultPath
