# The product's whole path as users meet it: a vendor license imported by cmdlets, SDK clients over HTTP against
# the real listener process, the administrator watching devices and items, and alerts by e-mail to a real SMTP server.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    $script:StorePath = New-TestStorePath
    $script:Folder = Split-Path $StorePath
    $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    New-DlsIssuerKey -Path (Join-Path $Folder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Vendor' -StorePath $StorePath | Out-Null
    $expires = [datetime]::UtcNow.AddYears(1)
    $Server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId SCEN-1 -IssuerKeyPath (Join-Path $Folder 'vendor.key') -Path (Join-Path $Folder 'scen.dlslicense') -Item @(
        @{ ItemId = 'DEV'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 5; ExpirationDate = $expires }
        @{ ItemId = 'SCAN'; Product = 'DLR'; Version = '3'; Deployment = 'Desktop'; Mode = 'PerScan'; Quantity = 100; ExpirationDate = $expires }
    ) | Out-Null
    Import-DlsLicense -StorePath $StorePath -Path (Join-Path $Folder 'scen.dlslicense') -NewHandshakeCode app | Out-Null

    $script:Url = (Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0).Url
    $script:SmtpPort = Get-FreePort
    $script:MailFolder = Join-Path $Folder 'mail'
    $script:Sink = Start-SmtpSink -Port $SmtpPort -Folder $MailFolder
    Set-DlsAlertSetting -StorePath $StorePath -SmtpServer 127.0.0.1 -SmtpPort $SmtpPort -SmtpSecurity None -From dls@example.test -To admin@example.test

    function Invoke-Dls([string] $Path, [hashtable] $Body) {
        $response = Invoke-WebRequest -Uri "$($Url)$Path" -Method Post -ContentType 'application/json' -Body ($Body | ConvertTo-Json -Depth 5) -SkipHttpErrorCheck
        [pscustomobject]@{ Status = [int] $response.StatusCode; Body = $response.Content | ConvertFrom-Json }
    }

    function Request-Authorization([string] $Client, [string] $Product = 'DBR', [string] $Version = '10.4.2000') {
        Invoke-Dls 'api/v1/auth' @{ handshakeCode = '216998-app'; clientUuid = $Client; product = $Product; version = $Version
            deployment = 'Desktop'; processName = 'scanner'; os = 'Linux'; requestId = [guid]::NewGuid().ToString() }
    }

    function Get-CurrentSlice {
        $now = [datetime]::UtcNow
        $now.AddTicks(-($now.Ticks % [timespan]::FromMinutes(3).Ticks)).ToString('yyyy-MM-ddTHH:mm:ssZ')
    }
}

AfterAll {
    Stop-SmtpSink $Sink
    Stop-DlsListener -StorePath $StorePath -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Folder
}

Describe 'SDK clients, devices, items and alerts through the real listener' {
    It 'e-mails each device-quota level once as devices arrive: 60, 80, 100 and 110 % (tolerance used up)' {
        # Quantity 5 with 10 % tolerance (1): devices 3, 4, 5 and 6 cross 60, 80, 100 and 120 % (the "110 %" level:
        # tolerance used up).
        $expected = @{ 3 = '60 %'; 4 = '80 %'; 5 = '100 %'; 6 = '110 %' }
        foreach ($n in 1..6) {
            $answer = Request-Authorization "device-$n"
            $answer.Status | Should -Be 200
            $answer.Body.itemId | Should -Be 'DEV'
            $answer.Body.authorization | Should -Match '^[\w-]+\.[\w-]+\.[\w-]+$'
            $before = @(Get-ChildItem $MailFolder -Filter *.eml -ErrorAction SilentlyContinue).Count
            Invoke-DlsAlertCheck -StorePath $StorePath | Where-Object Channel -EQ 'Email' | ForEach-Object { $_.Delivered | Should -BeTrue }
            $mail = @(Get-ChildItem $MailFolder -Filter *.eml -ErrorAction SilentlyContinue | Sort-Object Name)
            if ($expected.ContainsKey($n)) {
                $mail.Count | Should -Be ($before + 1) -Because "device $n crosses $($expected[$n])"
                $text = Get-Content -Raw ($mail | Sort-Object LastWriteTimeUtc | Select-Object -Last 1).FullName
                $text | Should -Match "reached $([regex]::Escape($expected[$n]))"
                $text | Should -Match 'DEV'
            } else {
                $mail.Count | Should -Be $before -Because "device $n crosses no level"
            }
        }
    }

    It 'refuses the next device with 120, and alerts on the code''s failed authorizations once' {
        $refused = Request-Authorization 'device-7'
        $refused.Status | Should -Be 409
        $refused.Body.errorCode | Should -Be 120
        $before = @(Get-ChildItem $MailFolder -Filter *.eml).Count
        Invoke-DlsAlertCheck -StorePath $StorePath | Out-Null
        $mail = @(Get-ChildItem $MailFolder -Filter *.eml | Sort-Object LastWriteTimeUtc)
        $mail.Count | Should -Be ($before + 1)
        # One refusal of seven authorizations in the last hour: the code's failure ratio passed 10 %.
        Get-Content -Raw $mail[-1].FullName | Should -Match '216998-app'
        Invoke-DlsAlertCheck -StorePath $StorePath | Out-Null
        @(Get-ChildItem $MailFolder -Filter *.eml).Count | Should -Be ($before + 1)
    }

    It 'lists the devices holding seats and the item''s use' {
        $devices = @(Get-DlsDevice -StorePath $StorePath -ItemId DEV -Active)
        $devices.Count | Should -Be 6
        ($devices.ClientUuid | Sort-Object) | Should -Be @(1..6 | ForEach-Object { "device-$_" })
        $item = Get-DlsLicenseItem -StorePath $StorePath -ItemId DEV
        $item.Used | Should -Be 6
        $item.PercentUsed | Should -Be 120
        $item.Status | Should -Be 'Active'
    }

    It 'frees a seat with Remove-DlsDevice, so the refused device gets one' {
        Remove-DlsDevice -StorePath $StorePath -ClientUuid device-1 -ItemId DEV -Force
        (Get-DlsDevice -StorePath $StorePath -ItemId DEV -Active).Count | Should -Be 5
        (Request-Authorization 'device-7').Status | Should -Be 200
        (Get-DlsAuditLog -StorePath $StorePath | Where-Object Action -EQ 'Device.Remove').Target | Should -Be 'DEV/device-1'
    }

    It 'counts reported scans once per batch, alerts at 60, 80, 100 and 105 %, and refuses every client past quantity + 5 %' {
        (Request-Authorization 'scanner-1' -Product DLR -Version 3).Status | Should -Be 200
        $batch = @{ clientUuid = 'scanner-1'; handshakeCode = '216998-app'; batchId = 'b-1'
            records = @(@{ slice = (Get-CurrentSlice); itemId = 'SCAN'; product = 'DLR'; count = 60 }) }
        $first = Invoke-Dls 'api/v1/reports' $batch
        $first.Status | Should -Be 200
        $first.Body.accepted | Should -Be 1
        $again = Invoke-Dls 'api/v1/reports' $batch
        $again.Body.duplicates | Should -Be 1
        (Get-DlsLicenseItem -StorePath $StorePath -ItemId SCAN).Used | Should -Be 60

        # 60 counted, then +20, +20, +5: each report crosses the next level of the 100-scan item (105 = tolerance used up).
        $levels = [ordered]@{ 'b-1' = @(0, '60 %'); 'b-2' = @(20, '80 %'); 'b-3' = @(20, '100 %'); 'b-4' = @(5, '105 %') }
        foreach ($entry in $levels.GetEnumerator()) {
            if ($entry.Value[0] -gt 0) {
                $batch.batchId = $entry.Key; $batch.records[0].count = $entry.Value[0]
                (Invoke-Dls 'api/v1/reports' $batch).Status | Should -Be 200
            }
            $before = @(Get-ChildItem $MailFolder -Filter *.eml).Count
            Invoke-DlsAlertCheck -StorePath $StorePath | Out-Null
            $mail = @(Get-ChildItem $MailFolder -Filter *.eml | Sort-Object LastWriteTimeUtc)
            $mail.Count | Should -Be ($before + 1) -Because "the scans cross $($entry.Value[1])"
            $text = Get-Content -Raw $mail[-1].FullName
            $text | Should -Match "reached $([regex]::Escape($entry.Value[1]))"
            $text | Should -Match 'SCAN'
        }
        (Get-DlsLicenseItem -StorePath $StorePath -ItemId SCAN).Used | Should -Be 105
        $refused = Request-Authorization 'scanner-2' -Product DLR -Version 3
        $refused.Body.errorCode | Should -Be 130
    }
}
