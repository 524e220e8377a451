BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
}

# Main and standby listeners on one store (SPEC §7), as docs/high-availability.md starts them.
Describe 'Start-DlsListener -Role Standby and Get-DlsListener' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    }

    AfterAll {
        Stop-DlsListener -StorePath $StorePath -ErrorAction SilentlyContinue -Confirm:$false | Out-Null
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'starts a main and a standby on one store, the standby not serving while the main is alive' {
        $script:Main = Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0 -Role Main
        $script:Standby = Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0 -Role Standby
        $Main.Role | Should -Be 'Main'
        $Main.Serving | Should -BeTrue
        $Standby.Role | Should -Be 'Standby'
        $Standby.Status | Should -Be 'Running'
        $Standby.Serving | Should -BeFalse

        $health = Invoke-RestMethod "$($Standby.Url)healthz"
        $health.role | Should -Be 'Standby'
        $health.serving | Should -BeFalse
        $health.uuid | Should -Be $Server.Uuid

        $answer = Invoke-WebRequest "$($Standby.Url)api/v1/auth" -Method Post -ContentType 'application/json' -SkipHttpErrorCheck -Body (@{
                handshakeCode = '216998-none'; clientUuid = 'device-1'; product = 'DBR'; version = '10'; deployment = 'Desktop'; requestId = '1'
            } | ConvertTo-Json)
        $answer.StatusCode | Should -Be 503
        ($answer.Content | ConvertFrom-Json).errorCode | Should -Be 100
    }

    It 'lists both from another session with role, host, heartbeat and whether each serves' {
        $seen = Invoke-FreshSession -StorePath $StorePath -Script {
            Get-DlsListener -StorePath $StorePath | Select-Object Url, Role, Host, Status, Alive, Serving, @{ n = 'HeartbeatSeconds'; e = { $_.HeartbeatAge.TotalSeconds } }
        }
        $seen.Count | Should -Be 2
        $main = $seen | Where-Object Url -EQ $Main.Url
        $standby = $seen | Where-Object Url -EQ $Standby.Url
        $main.Role | Should -Be 'Main'
        $main.Serving | Should -BeTrue
        $standby.Role | Should -Be 'Standby'
        $standby.Serving | Should -BeFalse
        foreach ($listener in $main, $standby) {
            $listener.Host | Should -Be ([Environment]::MachineName)
            $listener.Status | Should -Be 'Running'
            $listener.Alive | Should -BeTrue
            $listener.HeartbeatSeconds | Should -BeLessOrEqual 5
        }

        $table = Get-DlsListener -StorePath $StorePath | Out-String
        $table | Should -Match 'Role\s+Host'
        $table | Should -Match 'Standby'
    }

    It 'serves from the standby within 15 seconds of the main''s stop' {
        Stop-DlsListener -StorePath $StorePath -Url $Main.Url -Confirm:$false | Out-Null
        Wait-Until { (Invoke-RestMethod "$($Standby.Url)healthz").serving } -TimeoutSeconds 15 | Should -BeTrue

        # The store's record follows at the listener's next heartbeat (one a second).
        Wait-Until { (Get-DlsListener -StorePath $StorePath).Serving } -TimeoutSeconds 3 | Should -BeTrue
        $listener = Get-DlsListener -StorePath $StorePath
        $listener.Url | Should -Be $Standby.Url
        $listener.Role | Should -Be 'Standby' 
    }

    It 'takes the store''s role when started without -Role' {
        Set-DlsServer -StorePath $StorePath -Role Standby
        $listener = Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0
        $listener.Role | Should -Be 'Standby'
        (Invoke-RestMethod "$($listener.Url)healthz").role | Should -Be 'Standby'
        Stop-DlsListener -StorePath $StorePath -Url $listener.Url -Confirm:$false | Out-Null
    }
}
