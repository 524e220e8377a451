<#
.SYNOPSIS
    Builds the module's MAML help (en-US/DLS.dll-Help.xml) from docs/cmdlets/*.md and the cmdlets' own metadata.
.DESCRIPTION
    Each cmdlet has one Markdown page (docs/cmdlets/Verb-Noun.md) with the sections SYNOPSIS, DESCRIPTION,
    EXAMPLES (### headings, a powershell code fence, then remarks), PARAMETERS (### -Name, then text),
    OUTPUTS and NOTES. Syntax, types, positions and pipeline input come from the compiled cmdlets, so the
    help never disagrees with the code. Run in a fresh pwsh: it imports the built module.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $DocsPath,
    [Parameter(Mandatory)] [string] $OutputPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$module = Import-Module $ModulePath -PassThru -Force
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
$shared = @{
    StorePath = 'The DLS store (an SQLite file) to work on. Defaults to $env:DLS_STORE, else the platform data folder (~/.local/share/dls/dls.db on Linux, ~/Library/Application Support/dls/dls.db on macOS, %ProgramData%\DLS\dls.db on Windows).'
    WhatIf    = 'Shows what would happen if the cmdlet runs. The cmdlet is not run and nothing changes.'
    Confirm   = 'Prompts you for confirmation before running the cmdlet.'
}

function Read-HelpPage([string] $path) {
    $page = @{ Sections = @{}; Examples = [System.Collections.Generic.List[object]]::new(); Parameters = @{}; Outputs = [System.Collections.Generic.List[object]]::new() }
    $section = $null; $sub = $null; $buffer = [System.Collections.Generic.List[string]]::new()
    $flush = {
        $text = ($buffer -join "`n").Trim()
        if ($section -eq 'EXAMPLES' -and $sub) { $page.Examples.Add([pscustomobject]@{ Title = $sub; Body = $text }) }
        elseif ($section -eq 'PARAMETERS' -and $sub) { $page.Parameters[$sub.TrimStart('-')] = $text }
        elseif ($section -eq 'OUTPUTS' -and $sub) { $page.Outputs.Add([pscustomobject]@{ Type = $sub; Text = $text }) }
        elseif ($section -and -not $sub) { $page.Sections[$section] = $text }
        $buffer.Clear()
    }
    $inFence = $false
    foreach ($line in Get-Content -LiteralPath $path) {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line -match '^## (.+)$') { & $flush; $section = $Matches[1].Trim(); $sub = $null; continue }
        if (-not $inFence -and $line -match '^### (.+)$') { & $flush; $sub = $Matches[1].Trim(); continue }
        if (-not $inFence -and $line -match '^# ') { continue }
        $buffer.Add($line)
    }
    & $flush
    $page
}

function Split-Paragraphs([string] $text) {
    @(($text -split "\n\s*\n") | ForEach-Object { ($_ -replace '\s*\n\s*', ' ').Trim() } | Where-Object { $_ })
}

$ns = @{ maml = 'http://schemas.microsoft.com/maml/2004/10'; command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; dev = 'http://schemas.microsoft.com/maml/dev/2004/10' }
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$null = New-Item -ItemType Directory -Force -Path (Split-Path $OutputPath)
$w = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
function Para([string] $text) { foreach ($p in Split-Paragraphs $text) { $w.WriteElementString('para', $ns.maml, $p) } }
function Desc([string] $text) { $w.WriteStartElement('description', $ns.maml); Para $text; $w.WriteEndElement() }

$missing = [System.Collections.Generic.List[string]]::new()
$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh'); $w.WriteAttributeString('schema', 'maml')
foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $pagePath = Join-Path $DocsPath "$($command.Name).md"
    if (-not (Test-Path -LiteralPath $pagePath)) { $missing.Add("$($command.Name): no $pagePath"); continue }
    $page = Read-HelpPage $pagePath
    foreach ($required in 'SYNOPSIS', 'DESCRIPTION') {
        if (-not $page.Sections[$required]) { $missing.Add("$($command.Name): no $required section") }
    }
    if ($page.Examples.Count -eq 0) { $missing.Add("$($command.Name): no example") }
    $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $common -or $_.Name -in 'WhatIf', 'Confirm' })
    foreach ($p in $parameters) {
        if (-not $page.Parameters[$p.Name] -and -not $shared[$p.Name]) { $missing.Add("$($command.Name): parameter -$($p.Name) is not described") }
    }

    $w.WriteStartElement('command', 'command', $ns.command)
    $w.WriteAttributeString('xmlns', 'maml', $null, $ns.maml)
    $w.WriteAttributeString('xmlns', 'dev', $null, $ns.dev)
    $w.WriteStartElement('details', $ns.command)
    $w.WriteElementString('name', $ns.command, $command.Name)
    $w.WriteElementString('verb', $ns.command, $command.Verb)
    $w.WriteElementString('noun', $ns.command, $command.Noun)
    Desc $page.Sections['SYNOPSIS']
    $w.WriteEndElement()
    Desc $page.Sections['DESCRIPTION']

    $w.WriteStartElement('syntax', $ns.command)
    foreach ($set in $command.ParameterSets) {
        $w.WriteStartElement('syntaxItem', $ns.command)
        $w.WriteElementString('name', $ns.maml, $command.Name)
        foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $common -or $_.Name -in 'WhatIf', 'Confirm' }) {
            $w.WriteStartElement('parameter', $ns.command)
            $w.WriteAttributeString('required', "$($p.IsMandatory)".ToLower())
            $w.WriteAttributeString('position', $(if ($p.Position -ge 0) { "$($p.Position)" } else { 'named' }))
            $w.WriteElementString('name', $ns.maml, $p.Name)
            if ($p.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
                $w.WriteStartElement('parameterValue', $ns.command); $w.WriteAttributeString('required', 'true'); $w.WriteString($p.ParameterType.Name); $w.WriteEndElement()
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('parameters', $ns.command)
    foreach ($p in $parameters | Sort-Object Name) {
        $attributes = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
        $pipeline = @()
        if ($attributes | Where-Object ValueFromPipeline) { $pipeline += 'ByValue' }
        if ($attributes | Where-Object ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
        $position = @($attributes | Where-Object { $_.Position -ge 0 } | Select-Object -First 1 -ExpandProperty Position)
        $w.WriteStartElement('parameter', $ns.command)
        $w.WriteAttributeString('required', "$([bool]($attributes | Where-Object Mandatory))".ToLower())
        $w.WriteAttributeString('globbing', 'false')
        $w.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
        $w.WriteAttributeString('position', $(if ($position.Count) { "$($position[0])" } else { 'named' }))
        $w.WriteAttributeString('aliases', $(if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }))
        $w.WriteElementString('name', $ns.maml, $p.Name)
        Desc ($(if ($page.Parameters[$p.Name]) { $page.Parameters[$p.Name] } else { $shared[$p.Name] }))
        $w.WriteStartElement('parameterValue', $ns.command); $w.WriteAttributeString('required', "$($p.ParameterType -ne [System.Management.Automation.SwitchParameter])".ToLower()); $w.WriteString($p.ParameterType.Name); $w.WriteEndElement()
        $w.WriteStartElement('type', $ns.dev); $w.WriteElementString('name', $ns.maml, $p.ParameterType.FullName); $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('returnValues', $ns.command)
    foreach ($output in $page.Outputs) {
        $w.WriteStartElement('returnValue', $ns.command)
        $w.WriteStartElement('type', $ns.dev); $w.WriteElementString('name', $ns.maml, $output.Type); $w.WriteEndElement()
        Desc $output.Text
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    if ($page.Sections['NOTES']) {
        $w.WriteStartElement('alertSet', $ns.maml); $w.WriteStartElement('alert', $ns.maml); Para $page.Sections['NOTES']; $w.WriteEndElement(); $w.WriteEndElement()
    }

    $w.WriteStartElement('examples', $ns.command)
    foreach ($example in $page.Examples) {
        $code = if ($example.Body -match '(?s)```(?:powershell)?\s*\n(.*?)\n```') { $Matches[1] } else { '' }
        $remarks = ($example.Body -replace '(?s)```.*?```', '').Trim()
        $w.WriteStartElement('example', $ns.command)
        $w.WriteElementString('title', $ns.maml, "--------- $($example.Title) ---------")
        $w.WriteElementString('code', $ns.dev, $code)
        $w.WriteStartElement('remarks', $ns.dev); Para $remarks; $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Dispose()

if ($missing.Count) {
    throw "Help is incomplete:`n  " + ($missing -join "`n  ")
}
Write-Host "Help written to $OutputPath"
