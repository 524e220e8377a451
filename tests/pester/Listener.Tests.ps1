BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
}

Describe 'Start-, Get- and Stop-DlsListener' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    }

    AfterAll {
        Stop-DlsListener -StorePath $StorePath -ErrorAction SilentlyContinue -Confirm:$false | Out-Null
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'starts a listener on a port the system picks that answers /healthz with the server UUID' {
        $listener = Start-DlsListener -StorePath $StorePath -Url http://127.0.0.1:0
        $listener.Url | Should -Match '^http://127\.0\.0\.1:\d+/$'
        $script:Url = $listener.Url
        $script:Port = ([uri] $Url).Port
        $Port | Should -BeGreaterThan 0
        Test-PortOpen $Port | Should -BeTrue
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
        { Start-DlsListener -StorePath $missing -Url http://127.0.0.1:0 } | Should -Throw -ErrorId 'StoreNotFound*'
        $missing | Should -Not -Exist
    }

    Context 'over HTTPS with the administrator''s own certificate' {
        BeforeAll {
            $script:HttpsStore = New-TestStorePath
            $script:HttpsServer = Initialize-DlsServer -StorePath $HttpsStore -OrganizationId 216998
            $script:CertificateFolder = Split-Path $HttpsStore
            $script:Secret = ConvertTo-SecureString 'pfx password' -AsPlainText -Force

            # A self-signed server certificate for 127.0.0.1, as an administrator would make one.
            function New-TestCertificate([string] $Name) {
                $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
                $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new("CN=$Name", $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
                $names = [System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
                $names.AddIpAddress([System.Net.IPAddress]::Loopback)
                $names.AddDnsName('localhost')
                $request.CertificateExtensions.Add($names.Build())
                $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddDays(-1), [DateTimeOffset]::UtcNow.AddDays(30))
            }

            # The SHA-256 hash of the certificate the server on the port presents (accepted here only to be compared).
            function Get-PresentedCertificateHash([int] $Port) {
                $tcp = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $Port)
                try {
                    $tls = [System.Net.Security.SslStream]::new($tcp.GetStream(), $false, { $true })
                    $tls.AuthenticateAsClient('127.0.0.1')
                    $tls.RemoteCertificate.GetCertHashString([System.Security.Cryptography.HashAlgorithmName]::SHA256)
                } finally {
                    $tcp.Dispose()
                }
            }

            $script:Certificate = New-TestCertificate 'dls-pester'
            $script:PfxPath = Join-Path $CertificateFolder 'dls.pfx'
            [System.IO.File]::WriteAllBytes($PfxPath, $Certificate.Export('Pfx', 'pfx password'))
            $script:PemCertificate = New-TestCertificate 'dls-pester-pem'
            $script:CrtPath = Join-Path $CertificateFolder 'dls.crt'
            $script:KeyPath = Join-Path $CertificateFolder 'dls.key'
            Set-Content -LiteralPath $CrtPath -Value $PemCertificate.ExportCertificatePem()
            Set-Content -LiteralPath $KeyPath -Value ([System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($PemCertificate).ExportPkcs8PrivateKeyPem())
        }

        AfterAll {
            Stop-DlsListener -StorePath $HttpsStore -ErrorAction SilentlyContinue -Confirm:$false | Out-Null
            Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $CertificateFolder
        }

        It 'starts from a PFX file with its password and serves exactly that certificate' {
            $listener = Start-DlsListener -StorePath $HttpsStore -Url https://127.0.0.1:0 -CertificatePath $PfxPath -CertificatePassword $Secret
            $listener.Url | Should -Match '^https://127\.0\.0\.1:\d+/$'
            $script:HttpsUrl = $listener.Url
            $script:HttpsPort = ([uri] $HttpsUrl).Port
            $listener.ProcessId | Should -BeGreaterThan 0
            $listener.Status | Should -Be 'Running'
            $listener.Uuid | Should -Be $HttpsServer.Uuid

            Get-PresentedCertificateHash $HttpsPort | Should -Be $Certificate.GetCertHashString([System.Security.Cryptography.HashAlgorithmName]::SHA256)
            (Invoke-RestMethod "$($HttpsUrl)healthz" -SkipCertificateCheck).uuid | Should -Be $HttpsServer.Uuid
        }

        It 'is seen running by Get-DlsListener from another session' {
            $seen = Invoke-FreshSession -StorePath $HttpsStore -Script { Get-DlsListener -StorePath $StorePath | Select-Object Url, Status, ProcessId, Uuid }
            $seen.Url | Should -Be $HttpsUrl
            $seen.Status | Should -Be 'Running'
            $seen.Uuid | Should -Be $HttpsServer.Uuid
        }

        It 'is stopped by Stop-DlsListener, and then the port is closed' {
            $stopped = Stop-DlsListener -StorePath $HttpsStore -Url $HttpsUrl -Confirm:$false
            $stopped.Status | Should -Be 'Stopped'
            Test-PortOpen $HttpsPort | Should -BeFalse
            Get-DlsListener -StorePath $HttpsStore | Should -BeNullOrEmpty
        }

        It 'starts from a PEM certificate and key' {
            $listener = Start-DlsListener -StorePath $HttpsStore -Url https://127.0.0.1:0 -CertificatePath $CrtPath -CertificateKeyPath $KeyPath
            $port = ([uri] $listener.Url).Port
            try {
                $listener.Status | Should -Be 'Running'
                Get-PresentedCertificateHash $port | Should -Be $PemCertificate.GetCertHashString([System.Security.Cryptography.HashAlgorithmName]::SHA256)
                (Get-DlsListener -StorePath $HttpsStore -Url $listener.Url).Status | Should -Be 'Running'

                # Get-DlsListener trusts only the certificate recorded at start: a server presenting another is not this listener.
                $recorded = Join-Path (Split-Path $HttpsStore) "logs/listener-$port.crt"
                $recorded | Should -Exist
                Set-Content -LiteralPath $recorded -Value (New-TestCertificate 'dls-impostor').ExportCertificatePem()
                (Get-DlsListener -StorePath $HttpsStore -Url $listener.Url).Status | Should -Be 'NotResponding'
                Set-Content -LiteralPath $recorded -Value $PemCertificate.ExportCertificatePem()
                (Get-DlsListener -StorePath $HttpsStore -Url $listener.Url).Status | Should -Be 'Running'
            } finally {
                Stop-DlsListener -StorePath $HttpsStore -Url $listener.Url -Confirm:$false | Out-Null
            }
        }

        It 'refuses a wrong certificate password with CertificateInvalid, starting nothing' {
            # Nothing is started, so no listener's port is guessed: this is a port nothing may listen on afterwards.
            $port = Get-FreePort
            $wrong = ConvertTo-SecureString 'not the password' -AsPlainText -Force
            { Start-DlsListener -StorePath $HttpsStore -Url "https://127.0.0.1:$port" -CertificatePath $PfxPath -CertificatePassword $wrong } |
                Should -Throw -ErrorId 'CertificateInvalid*'
            Test-PortOpen $port | Should -BeFalse
            Get-DlsListener -StorePath $HttpsStore | Should -BeNullOrEmpty
        }

        It 'refuses an https:// URL without a certificate with CertificateMissing' {
            { Start-DlsListener -StorePath $HttpsStore -Url https://127.0.0.1:0 } | Should -Throw -ErrorId 'CertificateMissing*'
        }
    }
}
