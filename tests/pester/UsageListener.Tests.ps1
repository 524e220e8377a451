# Get-DlsUsage against sums sent as real SDK traffic: authorizations and report batches through the listener process.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    $expires = [datetime]::UtcNow.AddYears(1)
    $script:StorePath = New-LicensedTestStore -LicenseId U-1 -Item @(
        @{ ItemId = 'I1'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 100; StartDate = '2020-01-01'; ExpirationDate = $expires }
        @{ ItemId = 'S'; Product = 'DLR'; Version = '3'; Deployment = 'Desktop'; Mode = 'PerScan'; Quantity = 40; StartDate = '2020-01-01'; ExpirationDate = $expires }
    )
    $script:Folder = Split-Path $StorePath
    New-DlsHandshakeCode -StorePath $StorePath -Name b -ItemId S | Out-Null   # S is shared by codes a and b

    # Port 0: the listener takes a free port and Start-DlsListener answers with the address it got.
    $script:Url = (Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0).Url.TrimEnd('/') + '/'

    function Send-Dls([string] $Path, [hashtable] $Body) { Send-DlsPost $Url $Path $Body }
    function Send-Auth([string] $Code, [string] $Client, [string] $Product, [string] $Version = '10') {
        Invoke-WebRequest -Uri "$($Url)api/v1/auth" -Method Post -ContentType 'application/json' -SkipHttpErrorCheck -Body (@{
            handshakeCode = $Code; clientUuid = $Client; product = $Product; version = $Version; deployment = 'Desktop'; processName = 'app'; os = 'Linux'; requestId = [guid]::NewGuid().ToString()
        } | ConvertTo-Json)
    }
    function Sum($Rows, [string] $Property) { [long] (($Rows | Measure-Object -Property $Property -Sum).Sum) }
    function Iso([datetime] $Time) { $Time.ToString('yyyy-MM-ddTHH:mm:ssZ') }

    # Two days ago at 00:00 UTC: recent enough for the listener (reports up to 30 days old), aligned to slices.
    $script:Base = [datetime]::SpecifyKind([datetime]::UtcNow.Date.AddDays(-2), 'Utc')
    $script:Sent = @(
        @{ client = 'd1'; code = '216998-a'; item = 'I1'; product = 'DBR'; slice = $Base; count = 3; features = @{ barcode = 2 } }
        @{ client = 'd1'; code = '216998-a'; item = 'I1'; product = 'DBR'; slice = $Base.AddMinutes(3); count = 4 }
        @{ client = 'd2'; code = '216998-a'; item = 'S'; product = 'DLR'; slice = $Base; count = 5 }
        @{ client = 'd4'; code = '216998-b'; item = 'S'; product = 'DLR'; slice = $Base; count = 7; features = @{ ocr = 6; barcode = 1 } }
        @{ client = 'd4'; code = '216998-b'; item = 'S'; product = 'DLR'; slice = $Base.AddHours(1); count = 1 }
        @{ client = 'd3'; code = '216998-a'; item = 'I1'; product = 'DBR'; slice = $Base.AddDays(1).AddHours(12); count = 2 }
    )
    # Today, before they report (only authorized usage counts): three granted authorizations under a (d2 for the
    # scan item it reports), one granted and one refused (no DBR item: 104) under b.
    $script:Today = [datetime]::SpecifyKind([datetime]::UtcNow.Date, 'Utc')
    foreach ($client in 'd1', 'd3') { $r = Send-Auth '216998-a' $client 'DBR'; if ($r.StatusCode -ne 200) { throw "auth refused: $($r.Content)" } }
    if ((Send-Auth '216998-a' 'd2' 'DLR' '3').StatusCode -ne 200) { throw 'auth refused' }
    if ((Send-Auth '216998-b' 'd4' 'DLR' '3').StatusCode -ne 200) { throw 'auth refused' }
    if ((Send-Auth '216998-b' 'd5' 'DBR').StatusCode -ne 404) { throw 'expected 104' }

    foreach ($group in $Sent | Group-Object { "$($_.client)|$($_.code)" }) {
        $first = $group.Group[0]
        $records = @($group.Group | ForEach-Object {
            $record = @{ slice = Iso $_.slice; itemId = $_.item; product = $_.product; count = $_.count }
            if ($_.features) { $record.features = $_.features }
            $record
        })
        $answer = Send-Dls 'api/v1/reports' @{ clientUuid = $first.client; handshakeCode = $first.code; batchId = "batch-$($group.Name)"; records = $records }
        if ($answer.accepted -ne $records.Count) { throw "Reports not accepted: $($answer | ConvertTo-Json)" }
    }

}

AfterAll {
    Stop-DlsListener -StorePath $StorePath -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Folder
}

Describe 'Get-DlsUsage over reports sent through the listener' {
    BeforeAll {
        $script:Range = @{ StorePath = $StorePath; From = $Base; To = $Base.AddDays(2) }
    }

    It 'totals per item, with distinct devices' {
        $rows = Get-DlsUsage @Range -Interval Total -By Item
        $i1 = $rows | Where-Object ItemId -EQ 'I1'; $s = $rows | Where-Object ItemId -EQ 'S'
        $i1.UsageCount | Should -Be 9;  $i1.Devices | Should -Be 2
        $s.UsageCount | Should -Be 13;  $s.Devices | Should -Be 2
    }

    It 'totals per code, and a shared item shows only what came through the code asked for' {
        $rows = Get-DlsUsage @Range -Interval Total -By Code
        ($rows | Where-Object HandshakeCode -EQ '216998-a').UsageCount | Should -Be 14
        ($rows | Where-Object HandshakeCode -EQ '216998-b').UsageCount | Should -Be 8
        (Get-DlsUsage @Range -Interval Total -By Item -HandshakeCode 216998-b -ItemId S).UsageCount | Should -Be 8
        (Get-DlsUsage @Range -Interval Total -By Item -HandshakeCode 216998-a -ItemId S).UsageCount | Should -Be 5
    }

    It 'totals per device and per feature' {
        $devices = Get-DlsUsage @Range -Interval Total -By Device
        foreach ($expected in @{ d1 = 7; d2 = 5; d3 = 2; d4 = 8 }.GetEnumerator()) {
            Sum ($devices | Where-Object ClientUuid -EQ $expected.Key) UsageCount | Should -Be $expected.Value -Because $expected.Key
        }
        $features = Get-DlsUsage @Range -Interval Total -By Feature
        Sum ($features | Where-Object Feature -EQ 'barcode') UsageCount | Should -Be 3
        Sum ($features | Where-Object Feature -EQ 'ocr') UsageCount | Should -Be 6
    }

    It 'splits by slice, hour, day and month as the records were sent' {
        $slices = @(Get-DlsUsage -StorePath $StorePath -From $Base -To $Base.AddHours(1) -Interval Slice -ItemId I1)
        $slices.PeriodStart | Should -Be @($Base, $Base.AddMinutes(3))
        $slices.ForEach('UsageCount') | Should -Be @(3, 4)

        $hours = @(Get-DlsUsage -StorePath $StorePath -From $Base -To $Base.AddDays(1) -Interval Hour -ItemId S | Sort-Object PeriodStart)
        $hours.PeriodStart | Should -Be @($Base, $Base.AddHours(1))
        $hours.ForEach('UsageCount') | Should -Be @(12, 1)

        $days = @(Get-DlsUsage @Range -Interval Day -ItemId I1 | Sort-Object PeriodStart)
        $days.ForEach('UsageCount') | Should -Be @(7, 2)

        foreach ($month in Get-DlsUsage @Range -Interval Month -By Item) {
            $expected = $Sent | Where-Object { $_.item -eq $month.ItemId -and $_.slice.Month -eq $month.PeriodStart.Month }
            $month.UsageCount | Should -Be (Sum $expected count)
        }
    }

    It 'takes From inclusive and To exclusive at slice edges' {
        $rows = @(Get-DlsUsage -StorePath $StorePath -From $Base.AddMinutes(3) -To $Base.AddHours(1) -Interval Total -By Item)
        ($rows | Where-Object ItemId -EQ 'I1').UsageCount | Should -Be 4
        Sum ($rows | Where-Object ItemId -EQ 'S') UsageCount | Should -Be 0
    }

    It 'counts authorizations and failures per code, the refusal under its code' {
        $rows = Get-DlsUsage -StorePath $StorePath -From $Today -To $Today.AddDays(1) -Interval Total -By Code
        $a = $rows | Where-Object HandshakeCode -EQ '216998-a'; $b = $rows | Where-Object HandshakeCode -EQ '216998-b'
        $a.Authorizations | Should -Be 3; $a.FailedAuthorizations | Should -Be 0
        $b.Authorizations | Should -Be 2; $b.FailedAuthorizations | Should -Be 1
    }

    It 'puts the counted scans in the report''s quota gauge' {
        $path = Join-Path $Folder 'report.html'
        Export-DlsUsageReport -StorePath $StorePath -Path $path -From $Base -To $Base.AddDays(2)
        (Get-DlsLicenseItem -StorePath $StorePath -ItemId S).Used | Should -Be 13
        Get-Content -Raw $path | Should -Match '<b>13</b> of 40 used · PerScan'
    }
}
