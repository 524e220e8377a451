BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
}

Describe 'Start-, Get- and Stop-DlsListener' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
        $script:Port = Get-FreePort
        $script:Url = "http://127.0.0.1:$Port/"
    }

    AfterAll {
        Stop-DlsListener -StorePath $StorePath -ErrorAction SilentlyContinue -Confirm:$false | Out-Null
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'starts a listener that answers /healthz with the server UUID' {
        $listener = Start-DlsListener -StorePath $StorePath -Url $Url
        $listener.Url | Should -Be $Url
        $listener.Uuid | Should -Be $Server.Uuid
        $listener.Status | Should -Be 'Running'
        $listener.ProcessId | Should -BeGreaterThan 0

        $health = Invoke-RestMethod "$($Url)healthz"
        $health.uuid | Should -Be $Server.Uuid
        $health.storeOk | Should -BeTrue
        (Invoke-WebRequest $Url).Content | Should -Match ([regex]::Escape($Server.Uuid))
    }

    It 'is seen from another session' {
        $seen = Invoke-FreshSession -StorePath $StorePath -Script { Get-DlsListener -StorePath $StorePath | Select-Object Url, Status, ProcessId, Uuid }
        $seen.Url | Should -Be $Url
        $seen.Status | Should -Be 'Running'
        $seen.Uuid | Should -Be $Server.Uuid
    }

    It 'refuses a second start on the same URL' {
        { Start-DlsListener -StorePath $StorePath -Url $Url } | Should -Throw -ErrorId 'ListenerAlreadyRunning*'
    }

    It 'refuses a port taken by another program with an error naming the port' {
        $other = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $other.Start()
        try {
            $taken = $other.LocalEndpoint.Port
            $error = { Start-DlsListener -StorePath $StorePath -Url "http://127.0.0.1:$taken" } | Should -Throw -PassThru
            $error.FullyQualifiedErrorId | Should -BeLike 'ListenerPortInUse,*'
            $error.Exception.Message | Should -Match "\b$taken\b"
        } finally {
            $other.Stop()
        }
        (Get-DlsListener -StorePath $StorePath).Count | Should -Be 1
    }

    It 'lets cmdlets change the store while the listener serves, without lock errors' {
        $job = Start-ThreadJob -ArgumentList "$($Url)healthz" -ScriptBlock {
            param($healthz)
            $failures = 0
            $deadline = [DateTime]::UtcNow.AddSeconds(8)
            while ([DateTime]::UtcNow -lt $deadline) {
                try { $null = Invoke-RestMethod $healthz -TimeoutSec 5 } catch { $failures++ }
            }
            $failures
        }
        1..60 | ForEach-Object { Set-DlsServer -StorePath $StorePath -MainServerUrl "http://dls.example.com:$(40000 + $_)/" -ErrorAction Stop }
        $failures = $job | Wait-Job | Receive-Job
        $failures | Should -Be 0
        (Get-DlsServer -StorePath $StorePath).MainServerUrl | Should -Be 'http://dls.example.com:40060/'
    }

    It 'is stopped from another session, and then the port is closed' {
        $stopped = Invoke-FreshSession -StorePath $StorePath -Arg $Url -Script { Stop-DlsListener -StorePath $StorePath -Url $Arg -Confirm:$false | Select-Object Url, Status }
        $stopped.Url | Should -Be $Url
        $stopped.Status | Should -Be 'Stopped'
        Test-PortOpen $Port | Should -BeFalse
        Get-DlsListener -StorePath $StorePath | Should -BeNullOrEmpty
    }

    It 'refuses to start over a missing store with StoreNotFound' {
        $missing = New-TestStorePath
        { Start-DlsListener -StorePath $missing -Url "http://127.0.0.1:$(Get-FreePort)" } | Should -Throw -ErrorId 'StoreNotFound*'
        $missing | Should -Not -Exist
    }
}
