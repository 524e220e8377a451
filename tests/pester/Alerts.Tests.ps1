BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force

    # A webhook receiver on 127.0.0.1 in a thread job: answers 200 to $Count requests (or gives up after 30 s) and returns them.
    function Start-WebhookReceiver([int] $Port, [int] $Count = 1) {
        $job = Start-ThreadJob -ArgumentList "http://127.0.0.1:$Port/hook/", $Count -ScriptBlock {
            param($prefix, $count)
            $listener = [System.Net.HttpListener]::new()
            $listener.Prefixes.Add($prefix)
            $listener.Start()
            try {
                for ($i = 0; $i -lt $count; $i++) {
                    $task = $listener.GetContextAsync()
                    if (-not $task.Wait(30000)) { break }
                    $context = $task.Result
                    $buffer = [System.IO.MemoryStream]::new()
                    $context.Request.InputStream.CopyTo($buffer)
                    [pscustomobject]@{
                        Timestamp = $context.Request.Headers['X-Dls-Timestamp']
                        Signature = $context.Request.Headers['X-Dls-Signature']
                        Body      = $buffer.ToArray()
                    }
                    $context.Response.StatusCode = 200
                    $context.Response.Close()
                }
            } finally { $listener.Close() }
        }
        $null = Wait-Until { Test-PortOpen $Port } -TimeoutSeconds 10
        $job
    }

    function Get-Hmac([string] $Secret, [string] $Timestamp, [byte[]] $Body) {
        $hmac = [System.Security.Cryptography.HMACSHA256]::new([System.Text.Encoding]::UTF8.GetBytes($Secret))
        try {
            $signed = [System.Text.Encoding]::UTF8.GetBytes("$Timestamp.") + $Body
            'v1=' + [Convert]::ToHexString($hmac.ComputeHash([byte[]] $signed)).ToLowerInvariant()
        } finally { $hmac.Dispose() }
    }

    # Authorization facts as the listener records them: refused requests make the failed-authorization condition.
    function Add-RefusedAuthorization([string] $StorePath, [int] $Count, [string] $Code = '') {
        $connection = (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::new("Data Source=$StorePath")
        $connection.Open()
        try {
            $now = [DateTimeOffset]::UtcNow.AddMinutes(-1)
            for ($i = 0; $i -lt $Count; $i++) {
                $command = $connection.CreateCommand()
                $command.CommandText = "INSERT INTO auth_event (time, slice, handshake_code, item_id, client_uuid, error_code) VALUES (`$t, `$t, `$code, '', `$client, 101);"
                $null = $command.Parameters.AddWithValue('$t', (Get-ModuleType 'Dls.Core.Timestamps')::Format($now))
                $null = $command.Parameters.AddWithValue('$code', $Code)
                $null = $command.Parameters.AddWithValue('$client', "device-$i")
                $null = $command.ExecuteNonQuery()
                $command.Dispose()
            }
        } finally { $connection.Dispose() }
    }

    function New-AlertStore {
        $path = New-TestStorePath
        $null = Initialize-DlsServer -StorePath $path -OrganizationId 216998
        $path
    }
}

Describe 'Set-DlsAlertSetting and Get-DlsAlertSetting' {
    BeforeAll {
        $script:StorePath = New-AlertStore
        $script:MailPassword = 'Pester-Mail-Pw-91x'
        $script:HookSecret = 'Pester-Hook-Secret-37y'
    }
    AfterAll { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath) }

    It 'keeps every setting, shows the secrets only as set, and never writes them to the store in clear' {
        $credential = [pscredential]::new('mailer', (ConvertTo-SecureString $MailPassword -AsPlainText -Force))
        $result = Set-DlsAlertSetting -StorePath $StorePath -SmtpServer smtp.example.test -SmtpPort 587 -SmtpSecurity StartTls -Credential $credential `
            -From 'DLS <dls@example.test>' -To 'a@example.test;b@example.test' -Cc c@example.test -Bcc @('d@example.test', 'e@example.test') `
            -WebhookUrl https://hooks.example.test/dls -WebhookSecret (ConvertTo-SecureString $HookSecret -AsPlainText -Force) -PassThru
        $result | Should -Not -BeNullOrEmpty

        $shown = Invoke-FreshSession -StorePath $StorePath -Script { Get-DlsAlertSetting -StorePath $StorePath }
        $shown.SmtpServer | Should -Be 'smtp.example.test'
        $shown.SmtpPort | Should -Be 587
        $shown.SmtpSecurity | Should -Be 'StartTls'
        $shown.SmtpUserName | Should -Be 'mailer'
        $shown.SmtpPasswordSet | Should -BeTrue
        $shown.From | Should -Be 'DLS <dls@example.test>'
        $shown.To | Should -Be @('a@example.test', 'b@example.test')
        $shown.Cc | Should -Be @('c@example.test')
        $shown.Bcc | Should -Be @('d@example.test', 'e@example.test')
        $shown.WebhookUrl | Should -Be 'https://hooks.example.test/dls'
        $shown.WebhookSecretSet | Should -BeTrue
        $shown.EmailEnabled | Should -BeTrue

        $everything = Get-DlsAlertSetting -StorePath $StorePath | Format-List * | Out-String
        $everything | Should -Not -Match $MailPassword
        $everything | Should -Not -Match $HookSecret

        (Get-ModuleType 'Microsoft.Data.Sqlite.SqliteConnection')::ClearAllPools()
        foreach ($file in Get-ChildItem (Split-Path $StorePath) -Filter 'dls.db*' | Where-Object Name -NotLike '*.key') {
            $text = [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($file.FullName))
            $text.Contains($MailPassword) | Should -BeFalse -Because "$($file.Name) must not hold the SMTP password"
            $text.Contains($HookSecret) | Should -BeFalse -Because "$($file.Name) must not hold the webhook secret"
        }
        "$StorePath.secrets.key" | Should -Exist
        if (-not $IsWindows) { (Get-Item "$StorePath.secrets.key").UnixFileMode | Should -Be ([System.IO.UnixFileMode]::UserRead -bor [System.IO.UnixFileMode]::UserWrite) }
    }

    It 'changes nothing with -WhatIf' {
        Set-DlsAlertSetting -StorePath $StorePath -SmtpServer other.example.test -To x@example.test -WhatIf
        $shown = Get-DlsAlertSetting -StorePath $StorePath
        $shown.SmtpServer | Should -Be 'smtp.example.test'
        $shown.To | Should -Be @('a@example.test', 'b@example.test')
    }

    It 'refuses a bad address with a clear error and changes nothing' {
        { Set-DlsAlertSetting -StorePath $StorePath -SmtpServer other.example.test -To 'ok@example.test;not an address' -ErrorAction Stop } |
            Should -Throw -ErrorId 'AlertAddressInvalid,*'
        (Get-DlsAlertSetting -StorePath $StorePath).SmtpServer | Should -Be 'smtp.example.test'
    }

    It 'clears a setting given an empty value' {
        Set-DlsAlertSetting -StorePath $StorePath -Cc '' -Credential ([pscredential]::Empty) -WebhookUrl '' -WarningAction SilentlyContinue
        $shown = Get-DlsAlertSetting -StorePath $StorePath
        $shown.Cc | Should -BeNullOrEmpty
        $shown.SmtpUserName | Should -BeNullOrEmpty
        $shown.SmtpPasswordSet | Should -BeFalse
        $shown.WebhookEnabled | Should -BeFalse
        $shown.To | Should -Be @('a@example.test', 'b@example.test')
    }
}

Describe 'Send-DlsTestAlert' {
    BeforeEach { $script:StorePath = New-AlertStore }
    AfterEach { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath) }

    It 'refuses when no channel is configured' {
        { Send-DlsTestAlert -StorePath $StorePath -ErrorAction Stop } | Should -Throw -ErrorId 'AlertChannelNotConfigured,*'
    }

    It 'sends an e-mail through a real SMTP server' {
        $port = Get-FreePort
        $mailFolder = Join-Path (Split-Path $StorePath) 'mail'
        $sink = Start-SmtpSink -Port $port -Folder $mailFolder
        try {
            Set-DlsAlertSetting -StorePath $StorePath -SmtpServer 127.0.0.1 -SmtpPort $port -SmtpSecurity None -From dls@example.test -To 'admin@example.test;ops@example.test'
            $sent = Send-DlsTestAlert -StorePath $StorePath
            $sent.Channel | Should -Be 'Email'
            $sent.Delivered | Should -BeTrue
            $sent.Condition | Should -Be 'Test'
            $mail = Get-ChildItem $mailFolder -Filter *.eml
            @($mail).Count | Should -Be 1
            $text = Get-Content -Raw $mail.FullName
            $text | Should -Match '(?m)^Subject: \[DLS\] Test notification'
            $text | Should -Match '(?m)^To: admin@example.test, ops@example.test'
            $text | Should -Match 'text/plain'
            $text | Should -Match 'text/html'
        } finally { Stop-SmtpSink $sink }
    }

    It 'posts a webhook whose signature verifies with the secret' {
        $port = Get-FreePort
        $job = Start-WebhookReceiver -Port $port
        try {
            Set-DlsAlertSetting -StorePath $StorePath -WebhookUrl "http://127.0.0.1:$port/hook/" -WebhookSecret (ConvertTo-SecureString 'pester-secret' -AsPlainText -Force)
            $sent = Send-DlsTestAlert -StorePath $StorePath
            $sent.Delivered | Should -BeTrue
            $request = $job | Wait-Job -Timeout 30 | Receive-Job
            $request.Signature | Should -Be (Get-Hmac 'pester-secret' $request.Timestamp $request.Body)
            [long] $request.Timestamp | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.ToUnixTimeSeconds() - 60)
            ([System.Text.Encoding]::UTF8.GetString($request.Body) | ConvertFrom-Json).type | Should -Be 'dls.test'
        } finally { $job | Remove-Job -Force }
    }

    It 'reports a dead SMTP server as an error and in Get-DlsAlert' {
        $port = Get-FreePort
        Set-DlsAlertSetting -StorePath $StorePath -SmtpServer 127.0.0.1 -SmtpPort $port -SmtpSecurity None -From dls@example.test -To admin@example.test
        $sent = Send-DlsTestAlert -StorePath $StorePath -ErrorVariable failures -ErrorAction SilentlyContinue
        $sent.Delivered | Should -BeFalse
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'AlertDeliveryFailed,*'
        $failures[0].Exception.Message | Should -Match "127\.0\.0\.1:$port"
        $row = Get-DlsAlert -StorePath $StorePath
        $row.Delivered | Should -BeFalse
        $row.Error | Should -Match "127\.0\.0\.1:$port"
    }
}

Describe 'Invoke-DlsAlertCheck and Get-DlsAlert' {
    BeforeAll {
        $script:StorePath = New-AlertStore
        $script:Port = Get-FreePort
        Set-DlsAlertSetting -StorePath $StorePath -WebhookUrl "http://127.0.0.1:$Port/hook/" -WebhookSecret (ConvertTo-SecureString 'check-secret' -AsPlainText -Force)
        Add-RefusedAuthorization -StorePath $StorePath -Count 4
    }
    AfterAll { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath) }

    It 'with -WhatIf sends nothing and records nothing' {
        # What-if lines go to the host: run it in a child pwsh and read what it printed.
        $script = "Import-Module '$ModuleManifest'; Invoke-DlsAlertCheck -StorePath '$StorePath' -WhatIf"
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        $output = if ((Test-Path $pwshDll) -and [System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            & ([Environment]::ProcessPath) $pwshDll -NoProfile -NonInteractive -Command $script 2>&1 | Out-String
        } else {
            & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $script 2>&1 | Out-String
        }
        $output | Should -Match 'What if: .*notify 1: FailedAuthorizations \(no code\) 100 %'
        Get-DlsAlert -StorePath $StorePath | Should -BeNullOrEmpty
    }

    It 'notifies what reached a level, once, and shows it in Get-DlsAlert' {
        $job = Start-WebhookReceiver -Port $Port -Count 1
        try {
            $sent = Invoke-DlsAlertCheck -StorePath $StorePath
            $sent.Condition | Should -Be 'FailedAuthorizations'
            $sent.Level | Should -Be '100 %'
            $sent.Target | Should -Be '(no code)'
            $sent.Channel | Should -Be 'Webhook'
            $sent.Delivered | Should -BeTrue

            $requests = @($job | Wait-Job -Timeout 30 | Receive-Job)
            $requests.Count | Should -Be 1

            # Nothing new: the second check raises no notification, so nothing goes out on any channel.
            Invoke-DlsAlertCheck -StorePath $StorePath | Should -BeNullOrEmpty
            $requests[0].Signature | Should -Be (Get-Hmac 'check-secret' $requests[0].Timestamp $requests[0].Body)
        } finally { $job | Remove-Job -Force }

        $rows = @(Get-DlsAlert -StorePath $StorePath -Since (Get-Date).AddMinutes(-5))
        $rows.Count | Should -Be 1
        $rows[0].Delivered | Should -BeTrue
        @(Get-DlsAlert -StorePath $StorePath -Since (Get-Date).AddMinutes(5)).Count | Should -Be 0
    }
}
