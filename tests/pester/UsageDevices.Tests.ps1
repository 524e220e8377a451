# Get-DlsDevice in every mode and Get-DlsUsage -By Device, over real SDK traffic: authorizations and reports sent to the
# listener process through two handshake codes that share a per-scan item.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    $expires = [datetime]::UtcNow.AddYears(1)
    $script:StorePath = New-LicensedTestStore -LicenseId D-1 -Item @(
        @{ ItemId = 'P'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 10; StartDate = '2020-01-01'; ExpirationDate = $expires }
        @{ ItemId = 'S'; Product = 'DLR'; Version = '3'; Deployment = 'Desktop'; Mode = 'PerScan'; Quantity = 1000; StartDate = '2020-01-01'; ExpirationDate = $expires }
        @{ ItemId = 'C'; Product = 'DWT'; Version = '18'; Deployment = 'Desktop'; Mode = 'PerConcurrentDevice'; Quantity = 5; StartDate = '2020-01-01'; ExpirationDate = $expires }
    )
    $script:Folder = Split-Path $StorePath
    New-DlsHandshakeCode -StorePath $StorePath -Name b -ItemId S | Out-Null   # S is shared by codes a and b

    # Port 0: the listener takes a free port and Start-DlsListener answers with the address it got.
    $script:Url = (Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0).Url.TrimEnd('/') + '/'

    function Send-Dls([string] $Path, [hashtable] $Body) { Send-DlsPost $Url $Path $Body }
    function Grant([string] $Code, [string] $Client, [string] $Product, [string] $Version) {
        $null = Send-Dls 'api/v1/auth' @{
            handshakeCode = $Code; clientUuid = $Client; product = $Product; version = $Version; deployment = 'Desktop'; processName = 'app'; os = 'Linux'; requestId = [guid]::NewGuid().ToString()
        }
    }
    function Report([string] $Code, [string] $Client, [string] $Item, [string] $Product, [long] $Count) {
        $now = [datetime]::UtcNow
        $slice = [datetime]::new($now.Ticks - ($now.Ticks % [timespan]::FromMinutes(3).Ticks), 'Utc').ToString('yyyy-MM-ddTHH:mm:ssZ')
        $answer = Send-Dls 'api/v1/reports' @{ clientUuid = $Client; handshakeCode = $Code; batchId = [guid]::NewGuid().ToString(); records = @(@{ slice = $slice; itemId = $Item; product = $Product; count = $Count }) }
        if ($answer.accepted -ne 1) { throw "Report not accepted: $($answer | ConvertTo-Json)" }
    }

    $script:Before = [datetime]::UtcNow
    Grant '216998-a' 'x' 'DLR' '3'; Report '216998-a' 'x' 'S' 'DLR' 5
    Grant '216998-b' 'x' 'DLR' '3'; Report '216998-b' 'x' 'S' 'DLR' 7
    Grant '216998-b' 'y' 'DLR' '3'
    Grant '216998-a' 'c1' 'DWT' '18'; Report '216998-a' 'c1' 'C' 'DWT' 1
    Grant '216998-a' 'c2' 'DWT' '18'
    Grant '216998-a' 'p1' 'DBR' '10'
    $script:After = [datetime]::UtcNow
}

AfterAll {
    Stop-DlsListener -StorePath $StorePath -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Folder
}

Describe 'Get-DlsDevice in every mode' {
    It 'lists, for a code, the devices of its count and concurrent items as well as its seats' {
        $devices = @(Get-DlsDevice -StorePath $StorePath -HandshakeCode 216998-a)
        ($devices | ForEach-Object { "$($_.ItemId)/$($_.ClientUuid)" } | Sort-Object) | Should -Be @('C/c1', 'C/c2', 'P/p1', 'S/x')
    }

    It 'shows a count item''s device with its first and last contact and no seat' {
        $x = Get-DlsDevice -StorePath $StorePath -ItemId S -ClientUuid x
        @($x).Count | Should -Be 1
        $x.Mode | Should -Be 'PerScan'
        $x.FirstSeen.Kind | Should -Be 'Utc'
        $x.FirstSeen | Should -BeGreaterOrEqual $Before.AddSeconds(-1)
        $x.FirstSeen | Should -BeLessOrEqual $After
        $x.LastSeen | Should -BeGreaterOrEqual $x.FirstSeen.AddMinutes(-3)
        $x.ActiveUntil | Should -BeNullOrEmpty
        $x.HoldsSeat | Should -BeFalse
        $x.IsActive | Should -BeTrue
        $x.GrantedUntil | Should -BeGreaterThan ([datetime]::UtcNow.AddDays(6))
    }

    It 'lists only the devices authorized through the code asked for' {
        (Get-DlsDevice -StorePath $StorePath -HandshakeCode 216998-b).ClientUuid | Sort-Object | Should -Be @('x', 'y')
        (Get-DlsDevice -StorePath $StorePath -ItemId S).ClientUuid | Sort-Object | Should -Be @('x', 'y')
    }

    It 'gives a concurrent device an ActiveUntil only while it holds a seat, and -Active selects it' {
        $c = @(Get-DlsDevice -StorePath $StorePath -ItemId C)
        $c1 = $c | Where-Object ClientUuid -EQ 'c1'; $c2 = $c | Where-Object ClientUuid -EQ 'c2'
        $c1.HoldsSeat | Should -BeTrue
        $c1.ActiveUntil | Should -BeGreaterThan ([datetime]::UtcNow)
        $c2.HoldsSeat | Should -BeFalse
        $c2.ActiveUntil | Should -BeNullOrEmpty
        (Get-DlsDevice -StorePath $StorePath -ItemId C -Active).ClientUuid | Should -Be @('c1')
    }

    It 'formats a table with empty ActiveUntil cells' {
        $table = Get-DlsDevice -StorePath $StorePath -HandshakeCode 216998-a | Format-Table | Out-String -Width 200
        $table | Should -Match 'ClientUuid\s+ItemId\s+Domain\s+FirstSeen\s+LastSeen\s+ActiveUntil\s+HoldsSeat\s+Active'
        $table | Should -Match '\bx\s+S\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+False\s+True'
    }

    It 'refuses Remove-DlsDevice on an item without seats, with ItemHasNoSeats, and changes nothing' {
        $before = Get-DlsDevice -StorePath $StorePath -ItemId S | ConvertTo-Json
        $caught = { Remove-DlsDevice -StorePath $StorePath -ClientUuid x -ItemId S -Force } | Should -Throw -PassThru
        $caught.FullyQualifiedErrorId | Should -BeLike 'ItemHasNoSeats,*'
        $caught.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $caught.Exception.Message | Should -Match 'PerScan'
        Get-DlsDevice -StorePath $StorePath -ItemId S | ConvertTo-Json | Should -Be $before
        @(Get-DlsAuditLog -StorePath $StorePath | Where-Object Action -EQ 'Device.Remove').Count | Should -Be 0
    }
}

Describe 'Get-DlsUsage -By Device' {
    It 'gives a device that reported through two codes one row with the sum and an empty HandshakeCode' {
        $rows = @(Get-DlsUsage -StorePath $StorePath -From $Before.Date -To $Before.Date.AddDays(2) -Interval Total -By Device)
        $rows.ClientUuid | Should -Be @('c1', 'c2', 'p1', 'x', 'y')
        $x = $rows | Where-Object ClientUuid -EQ 'x'
        $x.UsageCount | Should -Be 12
        $x.Authorizations | Should -Be 2
        $x.HandshakeCode | Should -BeNullOrEmpty
        $x.ItemId | Should -BeNullOrEmpty
        # UsageCount does not hide PowerShell's Count: the array has its length, member enumeration each row's sum.
        $rows.Count | Should -Be 5
        $rows.UsageCount | Should -Be @(1, 0, 0, 12, 0)
        (Get-DlsUsage -StorePath $StorePath -From $Before.Date -To $Before.Date.AddDays(2) -Interval Total -By Device -HandshakeCode 216998-b |
            Where-Object ClientUuid -EQ 'x').UsageCount | Should -Be 7
    }
}
