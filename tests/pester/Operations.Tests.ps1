BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
}

Describe 'Backup-DlsStore, Restore-DlsStore and Get-DlsAuditLog' {
    BeforeEach {
        $script:StorePath = New-TestStorePath
        $script:Folder = Split-Path $StorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    }

    AfterEach {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Folder
    }

    It 'backs up and restores the server and its settings' {
        Set-DlsServer -StorePath $StorePath -MainServerUrl http://before.example.com
        $backup = Backup-DlsStore -StorePath $StorePath -Path (Join-Path $Folder 'backup.db')
        $backup.FullName | Should -Exist
        Set-DlsServer -StorePath $StorePath -MainServerUrl http://after.example.com

        $restored = Restore-DlsStore -StorePath $StorePath -Path $backup.FullName -Force
        $restored.Uuid | Should -Be $Server.Uuid
        (Get-DlsServer -StorePath $StorePath).MainServerUrl | Should -Be 'http://before.example.com/'
    }

    It 'refuses to overwrite a backup without -Force' {
        $target = Join-Path $Folder 'backup.db'
        Backup-DlsStore -StorePath $StorePath -Path $target | Out-Null
        { Backup-DlsStore -StorePath $StorePath -Path $target -ErrorAction Stop } | Should -Throw -ErrorId 'BackupExists*'
        Backup-DlsStore -StorePath $StorePath -Path $target -Force | Should -Not -BeNullOrEmpty
    }

    It 'changes nothing with -WhatIf' {
        $target = Join-Path $Folder 'backup.db'
        Backup-DlsStore -StorePath $StorePath -Path $target -WhatIf
        $target | Should -Not -Exist

        Backup-DlsStore -StorePath $StorePath -Path $target | Out-Null
        Set-DlsServer -StorePath $StorePath -OrganizationId 777
        Restore-DlsStore -StorePath $StorePath -Path $target -WhatIf
        (Get-DlsServer -StorePath $StorePath).OrganizationId | Should -Be '777'
    }

    It 'refuses a file that is not a DLS backup and leaves the store as it was' {
        $bogus = Join-Path $Folder 'bogus.db'
        Set-Content -LiteralPath $bogus -Value 'not a database'
        { Restore-DlsStore -StorePath $StorePath -Path $bogus -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BackupInvalid*'
        (Get-DlsServer -StorePath $StorePath).Uuid | Should -Be $Server.Uuid
    }

    It 'refuses to restore under a running listener' {
        $target = Join-Path $Folder 'backup.db'
        Backup-DlsStore -StorePath $StorePath -Path $target | Out-Null
        Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0 | Out-Null
        try {
            { Restore-DlsStore -StorePath $StorePath -Path $target -Force -ErrorAction Stop } | Should -Throw -ErrorId 'ListenerRunning*'
        } finally {
            Stop-DlsListener -StorePath $StorePath -Confirm:$false | Out-Null
        }
    }

    It 'records changes in the audit log, oldest first' {
        Set-DlsServer -StorePath $StorePath -OrganizationId 777
        Backup-DlsStore -StorePath $StorePath -Path (Join-Path $Folder 'b.db') | Out-Null
        $entries = @(Get-DlsAuditLog -StorePath $StorePath)
        $entries.Action | Should -Be @('Server.Initialize', 'Server.Set', 'Store.Backup')
        $entries[1].Details | Should -Match 'organizationId=777'
        $entries[0].User | Should -Be ([Environment]::UserName)
        @(Get-DlsAuditLog -StorePath $StorePath -Since ([datetime]::Now.AddMinutes(5))).Count | Should -Be 0
    }
}

Describe 'Backups and protected alert secrets' {
    It 'keeps the secrets readable after a restore into a new store' {
        $source = New-TestStorePath
        Initialize-DlsServer -StorePath $source | Out-Null
        $secret = ConvertTo-SecureString 'hook-secret-for-backup' -AsPlainText -Force
        Set-DlsAlertSetting -StorePath $source -WebhookUrl http://127.0.0.1:9/hook -WebhookSecret $secret
        $backup = Join-Path (Split-Path $source) 'backup.db'
        Backup-DlsStore -StorePath $source -Path $backup | Out-Null
        "$backup.secrets.key" | Should -Exist

        $target = New-TestStorePath
        Initialize-DlsServer -StorePath $target | Out-Null
        Restore-DlsStore -StorePath $target -Path $backup -Force | Out-Null
        (Get-DlsAlertSetting -StorePath $target).WebhookSecretSet | Should -BeTrue
        # The restored secret decrypts: a test alert reaches the (closed) webhook port and reports a delivery error, not a key error.
        $sent = Send-DlsTestAlert -StorePath $target -ErrorAction SilentlyContinue
        $sent | Should -Not -BeNullOrEmpty
        $sent.Delivered | Should -BeFalse
        $sent.Error | Should -Match 'Connection refused'
        $sent.Error | Should -Not -Match 'key'
        Remove-Item -Recurse -Force (Split-Path $source), (Split-Path $target)
    }
}

Describe 'Restore-DlsStore onto a new machine' {
    BeforeAll {
        $script:Source = New-TestStorePath
        $script:SourceFolder = Split-Path $Source
        $server = Initialize-DlsServer -StorePath $Source -OrganizationId 216998
        New-DlsIssuerKey -Path (Join-Path $SourceFolder 'vendor.key') | Add-DlsTrustedIssuer -Name 'Vendor' -StorePath $Source | Out-Null
        $expires = [datetime]::UtcNow.AddYears(1)
        $server | New-DlsLicenseFile -OrganizationId 216998 -LicenseId DR-1 -IssuerKeyPath (Join-Path $SourceFolder 'vendor.key') -Path (Join-Path $SourceFolder 'dr.dlslicense') -Item @(
            @{ ItemId = 'DEV'; Product = 'DBR'; Version = '10'; Deployment = 'Desktop'; Mode = 'PerDeviceYearly'; Quantity = 50; StartDate = '2020-01-01'; ExpirationDate = $expires }
            @{ ItemId = 'SCAN'; Product = 'DLR'; Version = '3'; Deployment = 'Desktop'; Mode = 'PerScan'; Quantity = 100000; StartDate = '2020-01-01'; ExpirationDate = $expires }
        ) | Out-Null
        Import-DlsLicense -StorePath $Source -Path (Join-Path $SourceFolder 'dr.dlslicense') -NewHandshakeCode app | Out-Null
        New-DlsHandshakeCode -StorePath $Source -Name scans -ItemId SCAN | Out-Null
        Set-DlsServer -StorePath $Source -MainServerUrl http://dls.example.test/
        Set-DlsAlertSetting -StorePath $Source -WebhookUrl http://127.0.0.1:9/hook -WebhookSecret (ConvertTo-SecureString 'restore-hook-secret' -AsPlainText -Force)

        $script:Url = "http://127.0.0.1:$(Get-FreePort)/"
        Start-DlsListener -StorePath $Source -Url $Url | Out-Null

        function Send-Auth([string] $BaseUrl, [string] $Code, [string] $Client, [string] $Product, [string] $Version) {
            Invoke-WebRequest -Uri "$($BaseUrl)api/v1/auth" -Method Post -ContentType 'application/json' -SkipHttpErrorCheck -Body (@{
                handshakeCode = $Code; clientUuid = $Client; product = $Product; version = $Version; deployment = 'Desktop'; processName = 'app'; os = 'Linux'; requestId = [guid]::NewGuid().ToString()
            } | ConvertTo-Json)
        }
        # What an administrator compares: every property but the store's own path.
        function Get-Picture([string] $StorePath) {
            [pscustomobject]@{
                Server = Get-DlsServer -StorePath $StorePath | Select-Object * -ExcludeProperty StorePath | ConvertTo-Json -Depth 6 -Compress -EnumsAsStrings
                Licenses = @(Get-DlsLicense -StorePath $StorePath) | Select-Object * -ExcludeProperty StorePath | ConvertTo-Json -Depth 6 -Compress -EnumsAsStrings
                Codes = @(Get-DlsHandshakeCode -StorePath $StorePath) | Select-Object * -ExcludeProperty StorePath | ConvertTo-Json -Depth 6 -Compress -EnumsAsStrings
            }
        }
        # Every file of a folder (hidden ones too) with its SHA-256: "untouched" is this, unchanged.
        function Get-FolderPicture([string] $Folder) {
            if (-not (Test-Path -LiteralPath $Folder)) { return '<no folder>' }
            @(Get-ChildItem -LiteralPath $Folder -Force -Recurse -File | Sort-Object FullName | ForEach-Object { "$($_.Name)=$((Get-FileHash -LiteralPath $_.FullName).Hash)" }) -join "`n"
        }

        # The devices that report are authorized before the load starts, so the load changes usage only.
        foreach ($client in 1..4) {
            $answer = Send-Auth $Url '216998-scans' "scanner-$client" 'DLR' '3'
            if ($answer.StatusCode -ne 200) { throw "auth refused: $($answer.Content)" }
        }

        # The load: report batches sent without pause from another thread while the backup is taken. The thread
        # shares the queue of acknowledgement times (a thread job passes objects by reference).
        $script:StopLoad = Join-Path $SourceFolder 'stop-load'
        $script:Acknowledged = [System.Collections.Concurrent.ConcurrentQueue[datetime]]::new()
        $script:Load = Start-ThreadJob -ArgumentList $Url, $StopLoad, $Acknowledged -ScriptBlock {
            param($Url, $StopLoad, $Acknowledged)
            $n = 0
            while (-not (Test-Path $StopLoad) -and $n -lt 20000) {
                $n++
                $slice = [datetime]::UtcNow; $slice = $slice.AddTicks(-($slice.Ticks % [timespan]::FromMinutes(3).Ticks))
                $body = @{ clientUuid = "scanner-$($n % 4 + 1)"; handshakeCode = '216998-scans'; batchId = "load-$n"
                    records = @(@{ slice = $slice.ToString('yyyy-MM-ddTHH:mm:ssZ'); itemId = 'SCAN'; product = 'DLR'; count = 1 }) } | ConvertTo-Json -Depth 5
                $response = Invoke-WebRequest -Uri "$($Url)api/v1/reports" -Method Post -ContentType 'application/json' -Body $body -SkipHttpErrorCheck
                if ($response.StatusCode -ne 200) { throw "report refused: $($response.StatusCode) $($response.Content)" }
                $Acknowledged.Enqueue([datetime]::UtcNow)
            }
        }
        $started = Wait-Until { $Acknowledged.Count -ge 20 -or $Load.State -notin 'NotStarted', 'Running' } -TimeoutSeconds 60
        if (-not $started -or $Acknowledged.Count -lt 20) { throw "The load did not start: $($Load | Receive-Job -ErrorAction Continue)" }

        $script:Backup = Join-Path $SourceFolder 'backups/dls-backup.db'
        $script:BackupStarted = [datetime]::UtcNow
        Backup-DlsStore -StorePath $Source -Path $Backup | Out-Null
        $script:BackupEnded = [datetime]::UtcNow
        $after = $Acknowledged.Count
        $null = Wait-Until { $Acknowledged.Count -ge $after + 20 } -TimeoutSeconds 30   # the load goes on after the backup (asserted below)
        New-Item -ItemType File -Path $StopLoad | Out-Null
        $Load | Wait-Job -Timeout 60 | Receive-Job | Out-Null
        $script:LoadState = $Load.State
        $Load | Remove-Job -Force
        Stop-DlsListener -StorePath $Source -Confirm:$false | Out-Null
    }

    AfterAll {
        Stop-DlsListener -StorePath $Source -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $SourceFolder
    }

    It 'took the backup while the listener acknowledged reports' {
        $LoadState | Should -Be 'Completed'
        @($Acknowledged.ToArray() | Where-Object { $_ -lt $BackupStarted }).Count | Should -BeGreaterThan 0
        @($Acknowledged.ToArray() | Where-Object { $_ -gt $BackupEnded }).Count | Should -BeGreaterThan 0
    }

    It 'restores into an empty folder: server, licenses and handshake codes as they were, and the listener there signs' {
        $machine = Join-Path ([System.IO.Path]::GetTempPath()) ("dls-newmachine-" + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory -Path $machine | Out-Null
        $target = Join-Path $machine 'dls.db'
        try {
            $restored = Restore-DlsStore -StorePath $target -Path $Backup -Force
            $original = Get-Picture $Source
            $restored.Uuid | Should -Be (Get-DlsServer -StorePath $Source).Uuid
            $copy = Get-Picture $target
            $copy.Server | Should -Be $original.Server
            $copy.Licenses | Should -Be $original.Licenses
            $copy.Codes | Should -Be $original.Codes
            if (-not $IsWindows) {
                (Get-Item -LiteralPath $target).UnixFileMode | Should -Be ([System.IO.UnixFileMode] 'UserRead, UserWrite')
                (Get-Item -LiteralPath "$target.secrets.key").UnixFileMode | Should -Be ([System.IO.UnixFileMode] 'UserRead, UserWrite')
            }
            @(Get-ChildItem -LiteralPath $machine -Force -Filter '.*restore*').Count | Should -Be 0
            (Get-DlsAuditLog -StorePath $target | Select-Object -Last 1).Action | Should -Be 'Store.Restore'

            # The alert secret opens: a test alert fails on the closed webhook port, not on a key.
            $sent = Send-DlsTestAlert -StorePath $target -ErrorAction SilentlyContinue
            $sent.Error | Should -Match 'Connection refused'

            # The signing key opens: the listener on the restored store signs with the original server's key.
            $newUrl = "http://127.0.0.1:$(Get-FreePort)/"
            Start-DlsListener -StorePath $target -Url $newUrl | Out-Null
            try {
                $answer = Send-Auth $newUrl '216998-app' 'new-device' 'DBR' '10'
                $answer.StatusCode | Should -Be 200
                $token = ($answer.Content | ConvertFrom-Json).authorization
                $parts = $token.Split('.')
                function FromBase64Url([string] $Text) { [Convert]::FromBase64String($Text.Replace('-', '+').Replace('_', '/').PadRight($Text.Length + (4 - $Text.Length % 4) % 4, '=')) }
                $key = [System.Security.Cryptography.ECDsa]::Create()
                $key.ImportFromPem((Get-DlsServer -StorePath $Source).PublicKey)
                $key.VerifyData([System.Text.Encoding]::ASCII.GetBytes("$($parts[0]).$($parts[1])"), (FromBase64Url $parts[2]),
                    [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.DSASignatureFormat]::IeeeP1363FixedFieldConcatenation) | Should -BeTrue
            } finally {
                Stop-DlsListener -StorePath $target -Confirm:$false | Out-Null
            }
        } finally {
            Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $machine
        }
    }

    It 'creates nothing on a new machine with -WhatIf' {
        $machine = Join-Path ([System.IO.Path]::GetTempPath()) ("dls-newmachine-" + [guid]::NewGuid().ToString('N'))
        Restore-DlsStore -StorePath (Join-Path $machine 'dls.db') -Path $Backup -WhatIf
        $machine | Should -Not -Exist
    }

    Context 'a backup that cannot be used' {
        BeforeAll {
            $script:Bad = Join-Path $SourceFolder 'bad'
            New-Item -ItemType Directory -Path $Bad | Out-Null
            # Half of a real backup, its key file whole beside it.
            $bytes = [System.IO.File]::ReadAllBytes($Backup)
            $script:Truncated = Join-Path $Bad 'truncated.db'
            [System.IO.File]::WriteAllBytes($Truncated, $bytes[0..([int]($bytes.Length / 2))])
            Copy-Item "$Backup.secrets.key" "$Truncated.secrets.key"
            # A sound SQLite database with a table of its own, not a DLS store (made with Python's sqlite3, gzip, base64).
            $script:Foreign = Join-Path $Bad 'notes.db'
            $packed = [Convert]::FromBase64String('H4sIALpuEWsC/wsO9MksSVVIyy/KTSxRMGZgYmBkZHBQUGBgADIhGAYYgZgFjU8IMDHoJTPyghQzbmYAolFAOfBmZBMXF2csL0lMyknNyy9JLQYTTM5Bro4hrgohjk4+rgpgIY3MFAVPvxBXd9cghYAgT1/HoEgFb9dIHYWS1IoShRDXiBBNSNy8YQCiUTDMgRAjM4M2MGEoJCq4+AQrFJfkF6UCADQlCVwABAAA')
            $gzip = [System.IO.Compression.GZipStream]::new([System.IO.MemoryStream]::new($packed), [System.IO.Compression.CompressionMode]::Decompress)
            $file = [System.IO.File]::Create($Foreign); $gzip.CopyTo($file); $file.Dispose(); $gzip.Dispose()
            $script:Random = Join-Path $Bad 'random.db'
            [System.IO.File]::WriteAllBytes($Random, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(16384))
        }

        It 'refuses <Name> with <ErrorId> and leaves an existing store byte for byte as it was' -ForEach @(
            @{ Name = 'a truncated backup'; File = 'truncated.db'; ErrorId = 'BackupInvalid' }
            @{ Name = 'an SQLite file that is not a DLS store'; File = 'notes.db'; ErrorId = 'BackupNotDls' }
            @{ Name = 'a file of random bytes'; File = 'random.db'; ErrorId = 'BackupInvalid' }
        ) {
            $target = New-TestStorePath
            Initialize-DlsServer -StorePath $target -OrganizationId 777 | Out-Null
            $before = Get-FolderPicture (Split-Path $target)
            try {
                { Restore-DlsStore -StorePath $target -Path (Join-Path $Bad $File) -Force -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId*"
                Get-FolderPicture (Split-Path $target) | Should -Be $before
                (Get-DlsServer -StorePath $target).OrganizationId | Should -Be '777'
            } finally {
                Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $target)
            }
        }

        It 'refuses <Name> with <ErrorId> and leaves no file in an empty folder, nor a folder it created' -ForEach @(
            @{ Name = 'a truncated backup'; File = 'truncated.db'; ErrorId = 'BackupInvalid' }
            @{ Name = 'an SQLite file that is not a DLS store'; File = 'notes.db'; ErrorId = 'BackupNotDls' }
            @{ Name = 'a file of random bytes'; File = 'random.db'; ErrorId = 'BackupInvalid' }
        ) {
            $empty = Join-Path ([System.IO.Path]::GetTempPath()) ("dls-newmachine-" + [guid]::NewGuid().ToString('N'))
            New-Item -ItemType Directory -Path $empty | Out-Null
            try {
                { Restore-DlsStore -StorePath (Join-Path $empty 'dls.db') -Path (Join-Path $Bad $File) -Force -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId*"
                @(Get-ChildItem -LiteralPath $empty -Force -Recurse).Count | Should -Be 0
                { Restore-DlsStore -StorePath (Join-Path $empty 'new/deeper/dls.db') -Path (Join-Path $Bad $File) -Force -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId*"
                @(Get-ChildItem -LiteralPath $empty -Force -Recurse).Count | Should -Be 0
            } finally {
                Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $empty
            }
        }

        It 'refuses a backup whose key file is missing on a new machine with BackupSecretsKeyMissing, leaving nothing' {
            $alone = Join-Path $Bad 'alone.db'
            Copy-Item $Backup $alone
            $empty = Join-Path ([System.IO.Path]::GetTempPath()) ("dls-newmachine-" + [guid]::NewGuid().ToString('N'))
            New-Item -ItemType Directory -Path $empty | Out-Null
            try {
                { Restore-DlsStore -StorePath (Join-Path $empty 'dls.db') -Path $alone -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BackupSecretsKeyMissing*'
                @(Get-ChildItem -LiteralPath $empty -Force -Recurse).Count | Should -Be 0
            } finally {
                Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $empty
            }
        }
    }
}
