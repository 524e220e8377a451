# Get-DlsUsage and Export-DlsUsageReport as an administrator uses them, against a store holding known facts.
# The facts are written through core's UsageStatistics by tests/UsageSeed, because they reach back to months long past
# (the listener takes reports up to 30 days old). UsageListener.Tests.ps1 sends recent usage through the real listener.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    $script:SeedDll = Get-ChildItem (Join-Path $PSScriptRoot '../UsageSeed/bin') -Recurse -Filter UsageSeed.dll -ErrorAction SilentlyContinue |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    if (-not $SeedDll) { throw 'tests/UsageSeed is not built: run ./build.ps1 build first.' }

    function New-Use([string] $Slice, [string] $Code, [string] $Item, [string] $Client, [long] $Count, [string] $Instance = '', [hashtable] $Features) {
        [ordered]@{ slice = $Slice; handshakeCode = $Code; itemId = $Item; clientUuid = $Client; instanceId = $Instance; count = $Count; features = $Features }
    }
    function New-Auth([string] $Time, [string] $Code, [string] $Item, [string] $Client, [int] $ErrorCode) {
        [ordered]@{ time = $Time; handshakeCode = $Code; itemId = $Item; clientUuid = $Client; errorCode = $ErrorCode }
    }

    $yesterday = [datetime]::UtcNow.Date.AddDays(-1).AddHours(12).ToString('yyyy-MM-ddTHH:mm:ssZ')
    $script:Usage = @(
        New-Use '2024-09-30T23:57:00Z' '216998-a' 'I1' 'dev1' 3 -Features @{ barcode = 2 }
        New-Use '2024-10-01T00:00:00Z' '216998-a' 'I1' 'dev1' 4
        New-Use '2024-10-01T00:00:00Z' '216998-a' 'S' 'dev2' 5 'p1'
        New-Use '2024-10-01T00:00:00Z' '216998-b' 'S' 'dev3' 7
        New-Use '2024-10-01T00:03:00Z' '216998-b' 'S' 'dev3' 1 'p2'
        New-Use '2024-10-01T01:00:00Z' '216998-b' 'I2' 'dev4' 10 -Features @{ ocr = 6; barcode = 1 }
        New-Use '2024-10-02T12:00:00Z' '216998-a' 'I1' 'dev2' 2
        New-Use '2024-11-15T08:30:00Z' '216998-a' 'S' 'dev1' 20
    )
    $script:Authorizations = @(
        New-Auth '2024-10-01T00:01:10Z' '216998-a' 'I1' 'dev1' 0
        New-Auth '2024-10-01T00:01:20Z' '' '' 'dev9' 101
        New-Auth '2024-10-01T00:02:00Z' '216998-b' '' 'dev8' 104
        New-Auth '2024-10-01T01:00:30Z' '216998-b' 'I2' 'dev4' 120
        New-Auth '2024-10-02T11:59:59Z' '216998-a' 'I1' 'dev2' 0
    )
    $script:Recent = New-Use $yesterday '216998-a' 'I1' 'dev5' 11

    $script:StorePath = New-TestStorePath
    $null = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    $factsPath = Join-Path (Split-Path $StorePath) 'facts.json'
    @{
        items          = @(
            @{ itemId = 'I1'; product = 'DBR'; mode = 'PerDeviceYearly'; quantity = 10 }
            @{ itemId = 'S'; product = 'DBR'; mode = 'PerScan'; quantity = 40 }
            @{ itemId = 'I2'; product = 'DLR'; mode = 'PerConcurrentDevice'; quantity = 5 }
        )
        codes          = @(@{ code = '216998-a'; itemIds = @('I1', 'S') }, @{ code = '216998-b'; itemIds = @('S', 'I2') })
        usage          = @($Usage) + @($Recent)
        authorizations = $Authorizations
    } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $factsPath
    $seedOutput = dotnet $SeedDll $StorePath $factsPath 2>&1
    if ($LASTEXITCODE -ne 0) { throw "UsageSeed failed: $seedOutput" }

    $script:From = [datetime]::new(2024, 9, 1, 0, 0, 0, [System.DateTimeKind]::Utc)
    $script:To = [datetime]::new(2024, 12, 1, 0, 0, 0, [System.DateTimeKind]::Utc)

    # What a row's period is, computed from a fact's time the way SPEC §2/§7 define it.
    function Get-PeriodStart([datetime] $Time, [string] $Interval) {
        $t = $Time.ToUniversalTime()
        switch ($Interval) {
            'Slice' { [datetime]::new($t.Ticks - ($t.Ticks % [timespan]::FromMinutes(3).Ticks), [System.DateTimeKind]::Utc) }
            'Hour' { [datetime]::new($t.Year, $t.Month, $t.Day, $t.Hour, 0, 0, [System.DateTimeKind]::Utc) }
            'Day' { [datetime]::new($t.Year, $t.Month, $t.Day, 0, 0, 0, [System.DateTimeKind]::Utc) }
            'Month' { [datetime]::new($t.Year, $t.Month, 1, 0, 0, 0, [System.DateTimeKind]::Utc) }
            'Total' { $script:From }
        }
    }
}

AfterAll {
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
}

Describe 'Get-DlsUsage' {
    It 'gives, by <By> per <Interval>, the sums of the facts written' -ForEach @(
        foreach ($by in 'Code', 'Item') { foreach ($interval in 'Slice', 'Hour', 'Day', 'Month', 'Total') { @{ By = $by; Interval = $interval } } }
    ) {
        $key = if ($By -eq 'Code') { 'handshakeCode' } else { 'itemId' }
        $expected = @{}
        foreach ($fact in $Usage) {
            $id = '{0:o}|{1}' -f (Get-PeriodStart ([datetime]$fact.slice) $Interval), $fact[$key]
            if (-not $expected[$id]) { $expected[$id] = @{ UsageCount = 0; Devices = [System.Collections.Generic.HashSet[string]]::new(); Authorizations = 0; Failed = 0 } }
            $expected[$id].UsageCount += $fact.count
            $null = $expected[$id].Devices.Add($fact.clientUuid)
        }
        foreach ($fact in $Authorizations) {
            $id = '{0:o}|{1}' -f (Get-PeriodStart ([datetime]$fact.time) $Interval), $fact[$key]
            if (-not $expected[$id]) { $expected[$id] = @{ UsageCount = 0; Devices = [System.Collections.Generic.HashSet[string]]::new(); Authorizations = 0; Failed = 0 } }
            $expected[$id].Authorizations++
            if ($fact.errorCode -ne 0) { $expected[$id].Failed++ }
        }

        $rows = @(Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval $Interval -By $By)
        $rows.Count | Should -Be $expected.Count
        foreach ($row in $rows) {
            $row.PeriodStart.Kind | Should -Be 'Utc'
            $id = '{0:o}|{1}' -f $row.PeriodStart, $row."$($key.Substring(0,1).ToUpper() + $key.Substring(1))"
            $expected.ContainsKey($id) | Should -BeTrue -Because "row $id must come from the facts"
            $row.UsageCount | Should -Be $expected[$id].UsageCount -Because $id
            $row.Devices | Should -Be $expected[$id].Devices.Count -Because $id
            $row.Authorizations | Should -Be $expected[$id].Authorizations -Because $id
            $row.FailedAuthorizations | Should -Be $expected[$id].Failed -Because $id
        }
    }

    It 'gives one row per device with -By Device, summed over its codes and items, and per feature with -By Feature' {
        $devices = @(Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Device)
        $devices.ClientUuid | Should -Be @('dev1', 'dev2', 'dev3', 'dev4', 'dev8', 'dev9')
        # dev1 used I1 and S, dev2 S and I1: one row each with the sum. Member enumeration gives each row's UsageCount.
        $devices.UsageCount | Should -Be @(27, 7, 8, 10, 0, 0)
        $devices.Authorizations | Should -Be @(1, 1, 0, 1, 1, 1)
        ($devices | Where-Object ClientUuid -eq 'dev9').FailedAuthorizations | Should -Be 1
        foreach ($row in $devices) {
            $row.HandshakeCode | Should -BeNullOrEmpty -Because 'SPEC §5: a column the grouping does not use is empty'
            $row.ItemId | Should -BeNullOrEmpty
            $row.Devices | Should -BeNullOrEmpty
        }

        # Filtered, the filter's column shows what was asked for (as -By Code shows -ItemId).
        $throughB = @(Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Device -HandshakeCode 216998-b)
        $throughB.ClientUuid | Should -Be @('dev3', 'dev4', 'dev8')
        $throughB.UsageCount | Should -Be @(8, 10, 0)
        $throughB.HandshakeCode | Should -Be @('216998-b', '216998-b', '216998-b')
        $throughB | ForEach-Object { $_.ItemId | Should -BeNullOrEmpty }

        $features = @(Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Feature)
        $features.Feature | Should -Be @('barcode', 'ocr')
        $features.ForEach('UsageCount') | Should -Be @(3, 6)
        $features[0].Authorizations | Should -BeNullOrEmpty
    }

    It 'shows for a shared item only the usage that came through the code asked for' {
        (Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -HandshakeCode 216998-a -ItemId S).UsageCount | Should -Be 25
        (Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -HandshakeCode 216998-b -ItemId S).UsageCount | Should -Be 8
        $everywhere = Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -ItemId S
        $everywhere.UsageCount | Should -Be 33
        $everywhere.Devices | Should -Be 3
        $everywhere.HandshakeCode | Should -BeNullOrEmpty
    }

    It 'binds -HandshakeCode and -ItemId from the pipeline by property name' {
        $rows = [pscustomobject]@{ Code = '216998-b' }, [pscustomobject]@{ Code = '216998-a' } |
            Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Code
        $rows.HandshakeCode | Should -Be @('216998-b', '216998-a')
        $rows.ForEach('UsageCount') | Should -Be @(18, 34)
    }

    It 'takes -From inclusive and -To exclusive, at a month edge' {
        $october = [datetime]::new(2024, 10, 1, 0, 0, 0, [System.DateTimeKind]::Utc)
        (Get-DlsUsage -StorePath $StorePath -From $From -To $october -Interval Total -ItemId I1).UsageCount | Should -Be 3
        (Get-DlsUsage -StorePath $StorePath -From $october -To $To -Interval Month -ItemId I1).UsageCount | Should -Be 6
    }

    It 'reads -From and -To given in local time as the same instants (TZ +05:30)' {
        $env:TZ, $savedTz = 'Asia/Kolkata', $env:TZ
        try {
            $seen = Invoke-FreshSession -StorePath $StorePath -Script {
                [pscustomobject]@{
                    Offset = [TimeZoneInfo]::Local.BaseUtcOffset.TotalMinutes
                    Rows   = @(Get-DlsUsage -StorePath $StorePath -From '2024-10-01 05:30' -To '2024-10-01 06:30' -Interval Hour -By Code |
                            Select-Object @{ n = 'PeriodStart'; e = { $_.PeriodStart.ToString('o') } }, HandshakeCode, UsageCount)
                }
            }
        } finally {
            $env:TZ = $savedTz
        }
        $seen.Offset | Should -Be 330
        # The fresh session's JSON comes back through ConvertFrom-Json, which reads the ISO text as a [datetime].
        $seen.Rows.PeriodStart | ForEach-Object { ([datetime] $_).ToUniversalTime() } | Should -Be (@([datetime]::new(2024, 10, 1, 0, 0, 0, [System.DateTimeKind]::Utc)) * 3)
        $seen.Rows.HandshakeCode | Should -Be @('', '216998-a', '216998-b')
        $seen.Rows.ForEach('UsageCount') | Should -Be @(0, 9, 8)
    }

    It 'defaults to -Interval Day over the last 30 days' {
        $rows = @(Get-DlsUsage -StorePath $StorePath)
        $rows.Count | Should -Be 1
        $rows[0].UsageCount | Should -Be 11
        $rows[0].PeriodStart | Should -Be ([datetime]::UtcNow.Date.AddDays(-1))
        $rows[0].PeriodEnd | Should -Be ([datetime]::UtcNow.Date)
        $rows[0].ItemId | Should -Be 'I1'
    }

    It 'refuses a range that ends before it starts, with a clear error' {
        $caught = { Get-DlsUsage -StorePath $StorePath -From $To -To $From } | Should -Throw -PassThru
        $caught.FullyQualifiedErrorId | Should -BeLike 'UsageRangeInvalid,*'
        $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'pipes to Export-Csv and back with every column' {
        $csv = Join-Path (Split-Path $StorePath) 'usage.csv'
        Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Month -By Code | Export-Csv -LiteralPath $csv
        $back = @(Import-Csv -LiteralPath $csv)
        $back[0].PSObject.Properties.Name | Should -Be @('PeriodStart', 'PeriodEnd', 'HandshakeCode', 'ItemId', 'ClientUuid', 'Feature', 'UsageCount',
            'Devices', 'PeakConcurrent', 'PeakInstances', 'Authorizations', 'FailedAuthorizations')
        ($back | Where-Object HandshakeCode -eq '216998-b').UsageCount | Should -Be '18'
        ($back | Where-Object HandshakeCode -eq '216998-b').ItemId | Should -Be ''
        ($back | Where-Object HandshakeCode -eq '').FailedAuthorizations | Should -Be '1'
    }

    It 'pipes to ConvertTo-Json with UTC times' {
        $json = Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Day -ItemId I2 | ConvertTo-Json | ConvertFrom-Json -DateKind String
        $json.PeriodStart | Should -Be '2024-10-01T00:00:00Z'
        $json.UsageCount | Should -Be 10
        $json.PeakConcurrent | Should -Be 1
        $json.FailedAuthorizations | Should -Be 1
    }

    It 'formats as a table with the columns of the grouping' {
        $byCode = Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Code | Format-Table | Out-String -Width 200
        $byCode | Should -Match 'PeriodStart \(UTC\)\s+HandshakeCode\s+ItemId\s+UsageCount\s+Devices\s+Peak\s+Authorizations\s+Failed'
        $byCode | Should -Match '2024-09-01 00:00\s+216998-b\s+18\s+2\s+1\s+2\s+2'
        $byDevice = Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Total -By Device | Format-Table | Out-String -Width 200
        $byDevice | Should -Match 'ClientUuid'
        $byDevice | Should -Not -Match 'Devices'
    }
}

Describe 'Export-DlsUsageReport' {
    BeforeAll {
        $script:Report = Join-Path (Split-Path $StorePath) 'report.html'
        $script:File = Export-DlsUsageReport -StorePath $StorePath -Path $Report -From $From -To $To -PassThru
        $script:Html = Get-Content -Raw -LiteralPath $Report
    }

    It 'writes one HTML file' {
        $File.FullName | Should -Be $Report
        $Html | Should -Match '^<!DOCTYPE html>'
        $Html | Should -Match '<svg class="trend"'
        $Html | Should -Match '<svg class="gauge"'
        ([regex]::Matches($Html, '<svg class="donut"')).Count | Should -Be 3
    }

    It 'is self-contained: it loads nothing from anywhere' {
        $Html | Should -Not -Match 'https?://'
        $Html | Should -Not -Match '<script'
        $Html | Should -Not -Match '<link'
        $Html | Should -Not -Match '\b(src|href)\s*='
        $Html | Should -Not -Match 'url\(|@import|@font-face'
    }

    It 'holds the numbers of the detail table (Get-DlsUsage -By Item -Interval Day for the range)' {
        $rows = @(Get-DlsUsage -StorePath $StorePath -From $From -To $To -Interval Day -By Item)
        $rows.Count | Should -BeGreaterThan 3
        $table = [regex]::Match($Html, '<table id="detail">.*?</table>', 'Singleline').Value
        $htmlRows = [regex]::Matches($table, '<tr><td>(?<cells>.*?)</td></tr>') | ForEach-Object { ($_.Groups['cells'].Value -split '</td><td[^>]*>') -join '|' }
        $htmlRows.Count | Should -Be $rows.Count
        $culture = [cultureinfo]::InvariantCulture
        for ($i = 0; $i -lt $rows.Count; $i++) {
            $r = $rows[$i]
            $item = if ($r.ItemId) { $r.ItemId } else { '(none)' }
            $htmlRows[$i] | Should -Be (@($r.PeriodStart.ToString('yyyy-MM-dd HH:mm', $culture), $item) + (@($r.UsageCount, $r.Devices, $r.PeakConcurrent, $r.PeakInstances, $r.Authorizations, $r.FailedAuthorizations) | ForEach-Object { $_.ToString('N0', $culture) }) -join '|')
        }
    }

    It 'reports on one handshake code' {
        $one = Join-Path (Split-Path $StorePath) 'one.html'
        Export-DlsUsageReport -StorePath $StorePath -Path $one -From $From -To $To -HandshakeCode 216998-b
        $text = Get-Content -Raw $one
        $text | Should -Match 'Handshake code 216998-b'
        $text | Should -Not -Match '<td>I1</td>'
    }

    It 'writes nothing with -WhatIf' {
        $none = Join-Path (Split-Path $StorePath) 'none.html'
        Export-DlsUsageReport -StorePath $StorePath -Path $none -WhatIf
        $none | Should -Not -Exist
    }

    It 'opens in headless Chromium and renders its charts' {
        $chromium = Get-Command chromium -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if (-not $chromium) {
            Set-ItResult -Skipped -Because 'chromium is not installed (apt-get install -y chromium); the screenshot check needs it'
            return
        }
        $profileDir = Join-Path ([System.IO.Path]::GetTempPath()) ('dls-chromium-' + [guid]::NewGuid().ToString('N'))
        $png = Join-Path ($env:DLS_TEST_ARTIFACTS ?? (Split-Path $StorePath)) 'usage-report.png'
        try {
            $null = & $chromium.Source --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking `
                --disable-component-update --disable-sync "--user-data-dir=$profileDir" "--screenshot=$png" --window-size=1280,2000 "file://$Report" 2>&1
        } finally {
            Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $profileDir
        }
        $png | Should -Exist
        $bytes = [System.IO.File]::ReadAllBytes($png)
        # PNG header: width and height, big-endian, at bytes 16 and 20.
        [BitConverter]::ToInt32([byte[]] $bytes[19..16], 0) | Should -Be 1280
        [BitConverter]::ToInt32([byte[]] $bytes[23..20], 0) | Should -Be 2000
        # A blank or error page compresses to a few kilobytes; charts, legends and tables do not.
        $bytes.Length | Should -BeGreaterThan 60KB
    }
}
