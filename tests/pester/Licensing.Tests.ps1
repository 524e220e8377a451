BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    # The store's bytes once every connection is closed (SQLite then folds the WAL into the file): equal hashes
    # mean the store did not change at all.
    function Get-StoreHash([string] $Path) {
        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        $files = @(Get-ChildItem -LiteralPath (Split-Path $Path) -Filter 'dls.db*' | Sort-Object Name)
        ($files | ForEach-Object { $_.Name + ':' + (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash }) -join ';'
    }

    function New-LicensingSetup {
        $store = New-TestStorePath
        $folder = Split-Path $store
        $server = Initialize-DlsServer -StorePath $store
        $key = New-DlsIssuerKey -Path (Join-Path $folder 'issuer.key')
        $key | Add-DlsTrustedIssuer -Name 'Test vendor' -StorePath $store
        [pscustomobject]@{ Store = $store; Folder = $folder; Server = $server; Key = $key }
    }

    function New-TestItem([string] $Id, [int] $Quantity = 10, [string] $Expires = '2030-12-31', [string] $Revokes) {
        $item = @{ ItemId = $Id; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = $Quantity; StartDate = '2024-01-01'; ExpirationDate = $Expires }
        if ($Revokes) { $item.Revokes = $Revokes }
        $item
    }

    function New-TestLicense($Setup, [string] $LicenseId = 'L1', [hashtable[]] $Item = @(New-TestItem 'I1'), [string] $Uuid = $Setup.Server.Uuid,
        [string] $Org = '216998', [datetime] $IssuedAt = '2026-01-01T00:00:00Z', [string] $KeyPath = $Setup.Key.Path, [string] $Name = "$LicenseId-$([guid]::NewGuid().ToString('N')).dlslicense") {
        New-DlsLicenseFile -IssuerKeyPath $KeyPath -ServerUuid $Uuid -OrganizationId $Org -LicenseId $LicenseId -Item $Item -IssuedAt $IssuedAt -Path (Join-Path $Setup.Folder $Name)
    }

    function ConvertFrom-LicenseKey([string] $Key) {
        $Key | Should -Match '^DLS2'
        [System.Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Key.Substring(4))) | ConvertFrom-Json
    }

    function ConvertTo-DerBase64([string] $Pem) {
        ($Pem -split "`n" | Where-Object { $_ -and $_ -notmatch '^-----' }) -join ''
    }
}

Describe 'The licensing path end to end' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        $null = Initialize-DlsServer -StorePath $StorePath
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'mints a license for this server in a fresh pwsh, imports it into a new code and gets a key that decodes to it' {
        $result = Invoke-FreshSession -StorePath $StorePath -Script {
            $folder = Split-Path $StorePath
            $server = Get-DlsServer -StorePath $StorePath
            New-DlsIssuerKey -Path (Join-Path $folder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Demo vendor' -StorePath $StorePath
            $file = $server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId DEMO-1 -IssuerKeyPath (Join-Path $folder 'vendor.key') -Path (Join-Path $folder 'demo.dlslicense') -Item @(
                @{ ItemId = 'DEMO-LATE'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 10; ExpirationDate = (Get-Date).AddYears(2) }
                @{ ItemId = 'DEMO-SOON'; Product = 'DWT'; Version = '18'; Deployment = 'Browser'; Mode = 'PerDomain'; Quantity = 3; ExpirationDate = (Get-Date).AddYears(1) })
            $license = $file | Import-DlsLicense -NewHandshakeCode vehicleApp -StorePath $StorePath
            [pscustomobject]@{
                License = $license | Select-Object LicenseId, OrganizationId, Items
                Items   = @(Get-DlsLicenseItem -StorePath $StorePath -HandshakeCode 216998-vehicleApp | Select-Object ItemId, Product, Quantity, Used, PercentUsed, Status)
                Code    = Get-DlsHandshakeCode -StorePath $StorePath | Select-Object Code, IsDefault, Enabled, ItemIds
                Key     = Get-DlsLicenseKey -StorePath $StorePath -Code 216998-vehicleApp
                Table   = Get-DlsLicenseItem -StorePath $StorePath | Out-String
            }
        }

        $result.License.LicenseId | Should -Be 'DEMO-1'
        $result.License.OrganizationId | Should -Be '216998'
        $result.Code.Code | Should -Be '216998-vehicleApp'
        $result.Code.IsDefault | Should -BeTrue
        @($result.Code.ItemIds) | Should -Be @('DEMO-SOON', 'DEMO-LATE')
        @($result.Items.ItemId) | Should -Be @('DEMO-SOON', 'DEMO-LATE')
        @($result.Items.Status) | Should -Be @('Active', 'Active')
        @($result.Items.Used) | Should -Be @(0, 0)
        $result.Table | Should -Match 'DEMO-SOON\s+DWT 18\s+PerDomain\s+0 of 3 \(0 %\)'

        $server = Get-DlsServer -StorePath $StorePath
        $server.OrganizationId | Should -Be '216998' -Because 'a server without an organization adopts the license''s'
        $key = ConvertFrom-LicenseKey $result.Key
        $key.handshakeCode | Should -Be '216998-vehicleApp'
        $key.organizationId | Should -Be '216998'
        $key.mainServerUrl | Should -Be $server.MainServerUrl
        $key.serverPublicKey | Should -Be (ConvertTo-DerBase64 $server.PublicKey)
        $key.PSObject.Properties.Name | Should -Not -Contain 'sessionPassword'
    }
}

Describe 'Import-DlsLicense refusals' {
    BeforeAll {
        $script:Setup = New-LicensingSetup
        $script:Good = New-TestLicense $Setup -Name 'good.dlslicense'
        Import-DlsLicense -StorePath $Setup.Store -Path $Good -NewHandshakeCode app | Out-Null
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Setup.Folder
    }

    BeforeEach {
        $script:Before = Get-StoreHash $Setup.Store
    }

    It 'refuses <Case> with <ErrorId> (<Category>) and leaves the store unchanged' -ForEach @(
        @{ Case = 'a changed payload'; ErrorId = 'LicenseSignatureInvalid'; Category = 'SecurityError'; Make = {
                $text = Get-Content -Raw $Good
                $at = $text.IndexOf('"payload":"') + 20
                $text.Substring(0, $at) + $(if ($text[$at] -eq 'A') { 'B' } else { 'A' }) + $text.Substring($at + 1) } }
        @{ Case = 'a file for another server'; ErrorId = 'LicenseBoundToOtherServer'; Category = 'InvalidOperation'; Make = {
                Get-Content -Raw (New-TestLicense $Setup -LicenseId L9 -Item (New-TestItem 'I9') -Uuid ([guid]::NewGuid())) } }
        @{ Case = 'an untrusted issuer'; ErrorId = 'LicenseIssuerNotTrusted'; Category = 'SecurityError'; Make = {
                $other = New-DlsIssuerKey -Path (Join-Path $Setup.Folder "other-$([guid]::NewGuid()).key")
                Get-Content -Raw (New-TestLicense $Setup -LicenseId L9 -Item (New-TestItem 'I9') -KeyPath $other.Path) } }
        @{ Case = 'another format version'; ErrorId = 'LicenseFormatUnsupported'; Category = 'InvalidData'; Make = {
                (Get-Content -Raw $Good).Replace('"format":"dls-license/1"', '"format":"dls-license/2"') } }
        @{ Case = 'malformed content'; ErrorId = 'LicenseMalformed'; Category = 'InvalidData'; Make = { '{"format":"dls-license/1","keyId":"zz"}' } }
        @{ Case = 'an older issue with other content'; ErrorId = 'LicenseSuperseded'; Category = 'InvalidOperation'; Make = {
                Get-Content -Raw (New-TestLicense $Setup -Item (New-TestItem 'I1' -Quantity 99) -IssuedAt '2025-06-01T00:00:00Z') } }
        @{ Case = 'another organization'; ErrorId = 'LicenseOrganizationMismatch'; Category = 'InvalidOperation'; Make = {
                Get-Content -Raw (New-TestLicense $Setup -LicenseId L9 -Item (New-TestItem 'I9') -Org 777) } }
        @{ Case = 'an item id of another license'; ErrorId = 'LicenseItemConflict'; Category = 'ResourceExists'; Make = {
                Get-Content -Raw (New-TestLicense $Setup -LicenseId L9 -Item (New-TestItem 'I1')) } }
    ) {
        $path = Join-Path $Setup.Folder "case-$([guid]::NewGuid()).dlslicense"
        [System.IO.File]::WriteAllText($path, (& $Make))
        $Before = Get-StoreHash $Setup.Store

        $out = Import-DlsLicense -StorePath $Setup.Store -Path $path -ErrorVariable problems -ErrorAction SilentlyContinue

        $out | Should -BeNullOrEmpty
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
        $problems[0].CategoryInfo.Category | Should -Be $Category
        Get-StoreHash $Setup.Store | Should -Be $Before
    }

    It 'refuses a file with one flipped byte anywhere' {
        $bytes = [System.IO.File]::ReadAllBytes($Good)
        $refusals = 'LicenseMalformed', 'LicenseFormatUnsupported', 'LicenseSignatureInvalid', 'LicenseIssuerNotTrusted'
        foreach ($position in 0, 5, 20, 60, [int]($bytes.Length / 2), ($bytes.Length - 30), ($bytes.Length - 2), ($bytes.Length - 1)) {
            $tampered = [byte[]]$bytes.Clone()
            $tampered[$position] = $tampered[$position] -bxor 0x01
            $path = Join-Path $Setup.Folder "flip-$position.dlslicense"
            [System.IO.File]::WriteAllBytes($path, $tampered)
            Import-DlsLicense -StorePath $Setup.Store -Path $path -ErrorVariable problems -ErrorAction SilentlyContinue | Out-Null
            $problems.Count | Should -Be 1 -Because "byte $position was flipped"
            $problems[0].FullyQualifiedErrorId.Split(',')[0] | Should -BeIn $refusals
        }
        Get-StoreHash $Setup.Store | Should -Be $Before
    }

    It 'reports a missing file and goes on with the next one' {
        $out = Import-DlsLicense -StorePath $Setup.Store -Path (Join-Path $Setup.Folder 'missing.dlslicense'), $Good -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'LicenseFileNotFound,*'
        $out.LicenseId | Should -Be 'L1'
        Get-StoreHash $Setup.Store | Should -Be $Before
    }

    It 'changes nothing when the same file is imported again' {
        $again = Import-DlsLicense -StorePath $Setup.Store -Path $Good
        $again.LicenseId | Should -Be 'L1'
        Get-StoreHash $Setup.Store | Should -Be $Before
    }
}

Describe '-WhatIf on every licensing change' {
    BeforeAll {
        $script:Setup = New-LicensingSetup
        $null = Import-DlsLicense -StorePath $Setup.Store -Path (New-TestLicense $Setup) -NewHandshakeCode app
        $script:Second = New-TestLicense $Setup -LicenseId L2 -Item (New-TestItem 'I2' -Quantity 25 -Expires '2029-06-30')
        $script:OtherKey = New-DlsIssuerKey -Path (Join-Path $Setup.Folder 'other.key')
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Setup.Folder
    }

    It '<Name> -WhatIf leaves the store byte for byte unchanged' -ForEach @(
        @{ Name = 'Add-DlsTrustedIssuer'; Run = { $OtherKey | Add-DlsTrustedIssuer -Name Other -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Remove-DlsTrustedIssuer'; Run = { Remove-DlsTrustedIssuer -KeyId $Setup.Key.KeyId -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Import-DlsLicense'; Run = { Import-DlsLicense -Path $Second -HandshakeCode 216998-app -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Set-DlsLicense'; Run = { Set-DlsLicense -LicenseId L1 -Alias Renamed -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Remove-DlsLicense'; Run = { Remove-DlsLicense -LicenseId L1 -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Remove-DlsLicense -Force'; Run = { Remove-DlsLicense -LicenseId L1 -Force -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'New-DlsHandshakeCode'; Run = { New-DlsHandshakeCode -Name other -ItemId I1 -Default -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Set-DlsHandshakeCode'; Run = { Set-DlsHandshakeCode -Code 216998-app -Enabled $false -Description x -StorePath $Setup.Store -WhatIf } }
        @{ Name = 'Remove-DlsHandshakeCode'; Run = { Remove-DlsHandshakeCode -Code 216998-app -Force -StorePath $Setup.Store -WhatIf } }
    ) {
        $before = Get-StoreHash $Setup.Store
        $null = & $Run
        Get-StoreHash $Setup.Store | Should -Be $before
    }

    It 'sees a real change (so an equal hash means something)' {
        $before = Get-StoreHash $Setup.Store
        Set-DlsLicense -LicenseId L1 -Alias "Changed $([guid]::NewGuid())" -StorePath $Setup.Store
        Get-StoreHash $Setup.Store | Should -Not -Be $before
    }

    It 'Import-DlsLicense -WhatIf tells which items, quantities, dates and codes would change' {
        $transcript = Join-Path $Setup.Folder 'whatif.txt'
        Start-Transcript -Path $transcript -UseMinimalHeader | Out-Null
        try { Import-DlsLicense -Path $Second -HandshakeCode 216998-app -StorePath $Setup.Store -WhatIf } finally { Stop-Transcript | Out-Null }
        $text = Get-Content -Raw $transcript
        $text | Should -Match "What if: Add license 'L2'"
        $text | Should -Match 'add item I2: DBR 10 Desktop PerDeviceYearly, quantity 25, 2024-01-01 to 2029-06-30'
        $text | Should -Match 'add I2 to handshake code 216998-app: items I2, I1'
    }

    It 'New-DlsIssuerKey and New-DlsLicenseFile -WhatIf write no file' {
        $keyPath = Join-Path $Setup.Folder 'whatif.key'
        $filePath = Join-Path $Setup.Folder 'whatif.dlslicense'
        New-DlsIssuerKey -Path $keyPath -WhatIf
        New-DlsLicenseFile -IssuerKeyPath $Setup.Key.Path -ServerUuid $Setup.Server.Uuid -OrganizationId 216998 -LicenseId W -Item (New-TestItem W1) -Path $filePath -WhatIf
        $keyPath | Should -Not -Exist
        $filePath | Should -Not -Exist
    }
}

Describe 'Handshake codes' {
    BeforeAll {
        $script:Setup = New-LicensingSetup
        $null = Import-DlsLicense -StorePath $Setup.Store -Path (New-TestLicense $Setup -Item (New-TestItem A -Expires 2029-01-01), (New-TestItem B -Expires 2028-01-01))
        $script:Password = 'Pester-Secret-' + [guid]::NewGuid().ToString('N')
        $script:Secure = ConvertTo-SecureString $Password -AsPlainText -Force
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Setup.Folder
    }

    It 'disables every code through the pipeline' {
        $null = New-DlsHandshakeCode -StorePath $Setup.Store -Name one -ItemId A, B
        $null = New-DlsHandshakeCode -StorePath $Setup.Store -Name two -ItemId B
        Get-DlsHandshakeCode -StorePath $Setup.Store | Set-DlsHandshakeCode -StorePath $Setup.Store -Enabled $false
        $codes = Get-DlsHandshakeCode -StorePath $Setup.Store
        @($codes | Where-Object Enabled).Count | Should -Be 0
        @($codes).Count | Should -Be 2
        ($codes | Where-Object Code -EQ '216998-one').IsDefault | Should -BeTrue -Because 'the first code is the default'
        @(($codes | Where-Object Code -EQ '216998-one').ItemIds) | Should -Be @('A', 'B') -Because 'the given order is kept'
    }

    It 'keeps the session password out of every output and every file' {
        $outputs = [System.Collections.Generic.List[string]]::new()
        $outputs.Add((New-DlsHandshakeCode -StorePath $Setup.Store -Name secret -ItemId A -SessionPassword $Secure -Verbose 4>&1 | Format-List * | Out-String))
        $outputs.Add((Set-DlsHandshakeCode -StorePath $Setup.Store -Code 216998-secret -SessionPassword $Secure -PassThru -Verbose 4>&1 | Format-List * | Out-String))
        $outputs.Add((Set-DlsHandshakeCode -StorePath $Setup.Store -Code 216998-secret -SessionPassword $Secure -WhatIf 6>&1 | Out-String))
        $outputs.Add((Get-DlsHandshakeCode -StorePath $Setup.Store | Format-List * | Out-String))
        $outputs.Add((Get-DlsHandshakeCode -StorePath $Setup.Store | ConvertTo-Json -Depth 5))
        $outputs.Add((Get-DlsLicenseKey -StorePath $Setup.Store -Code 216998-secret 3>&1 | Out-String))

        (Get-DlsHandshakeCode -StorePath $Setup.Store -Code 216998-secret).HasSessionPassword | Should -BeTrue
        foreach ($text in $outputs) { $text | Should -Not -Match $Password }
        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        foreach ($file in Get-ChildItem -LiteralPath $Setup.Folder -Recurse -File) {
            $bytes = [System.IO.File]::ReadAllBytes($file.FullName)
            [System.Text.Encoding]::UTF8.GetString($bytes) | Should -Not -Match $Password -Because "$($file.Name) must not hold it"
            [System.Text.Encoding]::Unicode.GetString($bytes) | Should -Not -Match $Password -Because "$($file.Name) must not hold it"
        }
    }

    It 'embeds the session password in the key only when it matches the stored hash' {
        $warnings = $null
        $plain = Get-DlsLicenseKey -StorePath $Setup.Store -Code 216998-secret -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -Not -BeNullOrEmpty
        (ConvertFrom-LicenseKey $plain).PSObject.Properties.Name | Should -Not -Contain 'sessionPassword'

        (ConvertFrom-LicenseKey (Get-DlsLicenseKey -StorePath $Setup.Store -Code 216998-secret -SessionPassword $Secure)).sessionPassword | Should -Be $Password

        $before = Get-StoreHash $Setup.Store
        Get-DlsLicenseKey -StorePath $Setup.Store -Code 216998-secret -SessionPassword (ConvertTo-SecureString wrong -AsPlainText -Force) -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'SessionPasswordMismatch,*'
        $problems[0].CategoryInfo.Category | Should -Be 'SecurityError'
        Get-StoreHash $Setup.Store | Should -Be $before
    }

    It 'refuses an unknown item with LicenseItemNotFound and an existing name with HandshakeCodeExists, changing nothing' {
        $before = Get-StoreHash $Setup.Store
        New-DlsHandshakeCode -StorePath $Setup.Store -Name x -ItemId NOPE -ErrorVariable problems -ErrorAction SilentlyContinue
        New-DlsHandshakeCode -StorePath $Setup.Store -Name one -ErrorVariable +problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'LicenseItemNotFound,*'
        $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $problems[1].FullyQualifiedErrorId | Should -BeLike 'HandshakeCodeExists,*'
        $problems[1].CategoryInfo.Category | Should -Be 'ResourceExists'
        Get-StoreHash $Setup.Store | Should -Be $before
    }

    It 'completes codes, item ids and license ids from the store given by -StorePath' {
        $line = "Get-DlsLicenseKey -StorePath '$($Setup.Store)' -Code 216998-s"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('216998-secret')
        $line = "Get-DlsLicenseItem -StorePath '$($Setup.Store)' -ItemId "
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('B', 'A')
        $line = "Remove-DlsLicense -StorePath '$($Setup.Store)' -LicenseId "
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('L1')
    }

    It 'names the codes that lose items when a license is removed' {
        $warnings = $null
        Remove-DlsLicense -StorePath $Setup.Store -LicenseId L1 -Force -WarningVariable warnings -WarningAction SilentlyContinue
        ($warnings -join "`n") | Should -Match 'Handshake code 216998-one lost items A, B'
        @((Get-DlsHandshakeCode -StorePath $Setup.Store -Code 216998-one).ItemIds).Count | Should -Be 0
    }
}

Describe 'Revocation and re-issue' {
    BeforeAll {
        $script:Setup = New-LicensingSetup
        $null = Import-DlsLicense -StorePath $Setup.Store -Path (New-TestLicense $Setup -Item (New-TestItem OLD)) -NewHandshakeCode app
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Setup.Folder
    }

    It 'makes both items invalid when a file revokes one' {
        $null = Import-DlsLicense -StorePath $Setup.Store -Path (New-TestLicense $Setup -LicenseId L2 -Item (New-TestItem FIX -Revokes OLD))
        (Get-DlsLicenseItem -StorePath $Setup.Store -ItemId OLD).Status | Should -Be 'Revoked'
        (Get-DlsLicenseItem -StorePath $Setup.Store -ItemId FIX).Status | Should -Be 'Revoked'
    }

    It 'replaces the items of a license with a newer issue' {
        $license = Import-DlsLicense -StorePath $Setup.Store -Path (New-TestLicense $Setup -Item (New-TestItem OLD -Quantity 50) -IssuedAt '2026-02-01T00:00:00Z')
        $license.IssuedAt | Should -Be ([datetime]'2026-02-01T00:00:00Z').ToUniversalTime()
        (Get-DlsLicenseItem -StorePath $Setup.Store -ItemId OLD).Quantity | Should -Be 50
    }
}
