BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    Import-Module $ModuleManifest -Force
    $script:Module = Get-Module DLS
}

Describe 'The DLS module' {
    It 'has a valid manifest' {
        { Test-ModuleManifest -Path $ModuleManifest -ErrorAction Stop } | Should -Not -Throw
    }

    It 'exports exactly the cmdlets the assembly defines' {
        $manifest = Import-PowerShellDataFile $ModuleManifest
        $defined = [System.Reflection.Assembly]::LoadFrom((Join-Path $ModuleFolder 'DLS.dll')).GetExportedTypes() |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" }
        @($manifest.CmdletsToExport | Sort-Object) | Should -Be @($defined | Sort-Object)
        @($Module.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($defined | Sort-Object)
    }

    It 'ships none of PowerShell''s own assemblies' {
        Get-ChildItem $ModuleFolder -Recurse -Filter 'System.Management.Automation.dll' | Should -BeNullOrEmpty
    }

    It 'carries SQLite for every platform it supports' {
        foreach ($path in 'linux-x64/native/libe_sqlite3.so', 'linux-arm64/native/libe_sqlite3.so', 'osx-x64/native/libe_sqlite3.dylib',
            'osx-arm64/native/libe_sqlite3.dylib', 'win-x64/native/e_sqlite3.dll') {
            Join-Path $ModuleFolder "Dependencies/runtimes/$path" | Should -Exist
        }
    }
}

Describe 'Help for <_>' -ForEach @((Import-PowerShellDataFile (Join-Path ($env:DLS_MODULE_PATH ?? (Join-Path $PSScriptRoot '../../out/DLS')) 'DLS.psd1')).CmdletsToExport) {
    BeforeAll {
        $script:Help = Get-Help $_ -Full
        $script:Command = Get-Command $_
    }

    It 'has a synopsis' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        # Without real help, PowerShell makes the synopsis from the syntax.
        $Help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($_))\s"
    }

    It 'has a description' {
        ($Help.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example with code' {
        @($Help.Examples.Example).Count | Should -BeGreaterThan 0
        @($Help.Examples.Example)[0].Code | Should -Not -BeNullOrEmpty
    }

    It 'describes every parameter' {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters
        foreach ($name in $Command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $parameter = $Help.Parameters.Parameter | Where-Object Name -EQ $name
            ($parameter.Description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$name needs a description"
        }
    }

    It 'supports -WhatIf when it changes state' {
        if ($Command.Verb -notin 'Get', 'Test', 'Find', 'Search', 'Export') {
            $Command.Parameters.Keys | Should -Contain 'WhatIf'
        }
    }
}

Describe 'Initialize-DlsServer and Get-DlsServer' {
    BeforeEach {
        $script:StorePath = New-TestStorePath
    }

    AfterEach {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'creates a server whose UUID a second session sees' {
        $server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
        $server.Uuid | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        (Get-DlsServer -StorePath $StorePath).Uuid | Should -Be $server.Uuid

        $seen = Invoke-FreshSession -StorePath $StorePath -Script { Get-DlsServer -StorePath $StorePath | Select-Object Uuid, OrganizationId }
        $seen.Uuid | Should -Be $server.Uuid
        $seen.OrganizationId | Should -Be '216998'
    }

    It 'returns an existing server unchanged' {
        $first = Initialize-DlsServer -StorePath $StorePath
        $second = Initialize-DlsServer -StorePath $StorePath -OrganizationId 1
        $second.Uuid | Should -Be $first.Uuid
        $second.OrganizationId | Should -Be ''
    }

    It 'creates nothing with -WhatIf' {
        Initialize-DlsServer -StorePath $StorePath -WhatIf
        $StorePath | Should -Not -Exist
    }

    It 'gives a store without licenses a new identity with -Force' {
        $first = Initialize-DlsServer -StorePath $StorePath
        $second = Initialize-DlsServer -StorePath $StorePath -Force -Confirm:$false
        $second.Uuid | Should -Not -Be $first.Uuid
    }

    It 'reports a missing store as a terminating StoreNotFound error' {
        $error = { Get-DlsServer -StorePath $StorePath } | Should -Throw -PassThru
        $error.FullyQualifiedErrorId | Should -BeLike 'StoreNotFound,*'
        $error.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $StorePath | Should -Not -Exist
    }

    It 'resolves a relative -StorePath against the current location' {
        Push-Location ([System.IO.Path]::GetTempPath())
        try {
            $relative = Join-Path (Split-Path (Split-Path $StorePath) -Leaf) 'dls.db'
            $server = Initialize-DlsServer -StorePath $relative
            $server.StorePath | Should -Be $StorePath
        } finally {
            Pop-Location
        }
    }
}

Describe 'Set-DlsServer' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        $script:Server = Initialize-DlsServer -StorePath $StorePath -OrganizationId 216998
    }

    AfterAll {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath)
    }

    It 'changes the URLs and role and keeps the rest' {
        $after = Set-DlsServer -StorePath $StorePath -MainServerUrl https://dls.example.com:8443 -StandbyServerUrl http://standby.example.com -Role Standby -PassThru
        $after.Uuid | Should -Be $Server.Uuid
        $after.OrganizationId | Should -Be '216998'
        $after.MainServerUrl | Should -Be 'https://dls.example.com:8443/'
        $after.StandbyServerUrl | Should -Be 'http://standby.example.com/'
        $after.Role | Should -Be 'Standby'
    }

    It 'writes nothing without -PassThru' {
        Set-DlsServer -StorePath $StorePath -Role Main | Should -BeNullOrEmpty
    }

    It 'changes nothing with -WhatIf' {
        $before = Get-DlsServer -StorePath $StorePath
        Set-DlsServer -StorePath $StorePath -OrganizationId 999 -WhatIf
        (Get-DlsServer -StorePath $StorePath).OrganizationId | Should -Be $before.OrganizationId
    }

    It 'shows the protection defaults and changes them, 0 turning a limit off, audited' {
        $before = Get-DlsServer -StorePath $StorePath
        $before.MaxCountPerSlice | Should -Be 100000
        $before.NewSeatsPerMinute | Should -Be 60
        $before.FailedAuthorizationsPerMinute | Should -Be 30
        $before.PublicHomePage | Should -BeFalse

        $after = Set-DlsServer -StorePath $StorePath -MaxCountPerSlice 5000 -NewSeatsPerMinute 0 -FailedAuthorizationsPerMinutePerCode 7 -PublicHomePage $true -PassThru
        $after.MaxCountPerSlice | Should -Be 5000
        $after.NewSeatsPerMinute | Should -Be 0
        $after.NewSeatsPerMinutePerCode | Should -Be 600
        $after.FailedAuthorizationsPerMinutePerCode | Should -Be 7
        $after.PublicHomePage | Should -BeTrue
        (Get-DlsAuditLog -StorePath $StorePath | Where-Object Action -eq 'Server.SetProtection').Details | Should -Match 'MaxCountPerSlice=5000'
    }

    It 'refuses a limit out of range and changes nothing' {
        { Set-DlsServer -StorePath $StorePath -MaxCountPerSlice 0 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        { Set-DlsServer -StorePath $StorePath -NewSeatsPerMinute -1 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        (Get-DlsServer -StorePath $StorePath).MaxCountPerSlice | Should -Be 5000
    }

    It 'refuses a bad URL with ServerUrlInvalid and changes nothing' {
        $before = Get-DlsServer -StorePath $StorePath
        Set-DlsServer -StorePath $StorePath -MainServerUrl 'ftp://x' -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ServerUrlInvalid,*'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        (Get-DlsServer -StorePath $StorePath).MainServerUrl | Should -Be $before.MainServerUrl
    }
}

Describe 'Usage retention setting' {
    BeforeAll {
        $script:StorePath = New-TestStorePath
        Initialize-DlsServer -StorePath $StorePath | Out-Null
    }
    AfterAll { Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Split-Path $StorePath) }

    It 'defaults to 400 days and is changed and audited by Set-DlsServer' {
        (Get-DlsServer -StorePath $StorePath).UsageRetentionDays | Should -Be 400
        (Set-DlsServer -StorePath $StorePath -UsageRetentionDays 730 -PassThru).UsageRetentionDays | Should -Be 730
        (Get-DlsServer -StorePath $StorePath).UsageRetentionDays | Should -Be 730
        (Get-DlsAuditLog -StorePath $StorePath | Where-Object Action -EQ 'Usage.SetRetention').Details | Should -Match '730'
    }

    It 'refuses a value out of range and keeps the old one' {
        { Set-DlsServer -StorePath $StorePath -UsageRetentionDays 0 -ErrorAction Stop } | Should -Throw
        (Get-DlsServer -StorePath $StorePath).UsageRetentionDays | Should -Be 730
    }
}
