<#
.SYNOPSIS
Refreshes the Public Suffix List that DLS carries (core/Accounting/public_suffix_list.dat) and its test cases
(tests/Dls.Core.Tests/Data/test_psl.txt), and notes where they came from (core/Accounting/public_suffix_list.version).

.DESCRIPTION
-Source Debian (the default) copies the files of Debian's publicsuffix package (apt-get install -y publicsuffix):
/usr/share/publicsuffix/public_suffix_list.dat and /usr/share/doc/publicsuffix/examples/test_psl.txt.
-Source Download fetches the canonical list, https://publicsuffix.org/list/public_suffix_list.dat, and the
project's test cases from its repository.

The new list must keep its MPL-2.0 header and both sections (ICANN and PRIVATE) and hold thousands of rules, or
nothing is changed. Rebuild and run the tests afterwards (docs/public-suffix-list.md): the list's own test cases
and the billing cases of tests/Dls.Core.Tests/PublicSuffixListTests.cs must still pass; commit the three files
together. The build and the tests never need the network or the package.

.EXAMPLE
./tools/Update-PublicSuffixList.ps1 -Source Download
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidateSet('Debian', 'Download')]
    [string] $Source = 'Debian'
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
$listTarget = Join-Path $root 'core/Accounting/public_suffix_list.dat'
$testTarget = Join-Path $root 'tests/Dls.Core.Tests/Data/test_psl.txt'
$versionTarget = Join-Path $root 'core/Accounting/public_suffix_list.version'
$snapshot = $null
$work = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "psl-$([guid]::NewGuid().ToString('N'))")

try {
    $list = Join-Path $work 'public_suffix_list.dat'
    $tests = Join-Path $work 'test_psl.txt'
    if ($Source -eq 'Debian') {
        $debianList = '/usr/share/publicsuffix/public_suffix_list.dat'
        $debianTests = '/usr/share/doc/publicsuffix/examples/test_psl.txt'
        if (-not (Test-Path $debianList)) { throw "$debianList is missing: apt-get install -y publicsuffix, or use -Source Download." }
        Copy-Item $debianList $list
        if (Test-Path $debianTests) { Copy-Item $debianTests $tests }
        $version = (& dpkg-query -W -f '${Version}' publicsuffix 2>$null)
        $origin = "Debian package publicsuffix $version ($debianList)"
        # Debian numbers the package after the upstream snapshot: 20230209.2326 is the list of 2023-02-09 23:26.
        if ($version -match '^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})') { $snapshot = "publicsuffix.org list of $($Matches[1])-$($Matches[2])-$($Matches[3]) $($Matches[4]):$($Matches[5])" }
    } else {
        Invoke-WebRequest -Uri 'https://publicsuffix.org/list/public_suffix_list.dat' -OutFile $list
        Invoke-WebRequest -Uri 'https://raw.githubusercontent.com/publicsuffix/list/main/tests/test_psl.txt' -OutFile $tests
        $origin = 'https://publicsuffix.org/list/public_suffix_list.dat'
    }

    $text = Get-Content -Raw -LiteralPath $list
    if (-not $text.StartsWith('// This Source Code Form is subject to the terms of the Mozilla Public')) { throw 'The list lost its MPL-2.0 header: not replaced.' }
    foreach ($marker in '// ===BEGIN ICANN DOMAINS===', '// ===BEGIN PRIVATE DOMAINS===') {
        if (-not $text.Contains($marker)) { throw "The list has no '$marker' section: not replaced." }
    }
    $rules = @($text -split "`n" | Where-Object { $_.Trim() -and -not $_.Trim().StartsWith('//') }).Count
    if ($rules -lt 5000) { throw "The list holds only $rules rules: not replaced." }
    # Newer lists name their upstream commit in the header.
    $stamp = @($text -split "`n" | Where-Object { $_ -match '^// (VERSION|COMMIT): ' } | ForEach-Object { $_.Substring(3).Trim() }) -join ', '
    if (-not $stamp) { $stamp = $snapshot }
    $hash = (Get-FileHash -Algorithm SHA256 -LiteralPath $list).Hash.ToLowerInvariant()

    if ($PSCmdlet.ShouldProcess($listTarget, "Replace with $rules rules from $origin")) {
        Copy-Item $list $listTarget -Force
        if (Test-Path $tests) { Copy-Item $tests $testTarget -Force }
        @(
            "source: $origin"
            "upstream: $(if ($stamp) { $stamp } else { 'see the source' })"
            "rules: $rules"
            "sha256: $hash"
            "updated: $([datetime]::UtcNow.ToString('yyyy-MM-dd'))"
        ) | Set-Content -LiteralPath $versionTarget -Encoding utf8NoBOM
        Write-Host "Public Suffix List: $rules rules from $origin. Now rebuild and run the tests (docs/public-suffix-list.md)."
    }
} finally {
    Remove-Item -Recurse -Force -LiteralPath $work -ErrorAction SilentlyContinue
}
