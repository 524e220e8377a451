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
