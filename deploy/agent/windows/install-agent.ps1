<#
.SYNOPSIS
    Installs (or upgrades) the ReadyFloor seat agent on a Windows workstation.

.DESCRIPTION
    Run as an administrator (by hand, or from Intune / SCCM / GPO as SYSTEM):

      1. makes %ProgramData%\ReadyFloor writable by administrators only, so no user can plant
         code that every other user of the seat would then run;
      2. creates a Python virtual environment there (venv\) and installs the agent package;
      3. writes %ProgramData%\ReadyFloor\agent.ini (server, seat, enrolment secret);
      4. registers the "ReadyFloor Agent" task (readyfloor-agent-task.xml): at every sign-in,
         for members of Users, in the user's own session, restarted if it stops;
      5. starts the task.

    The agent runs as the signed-in user because what it checks is per user: the microphone
    consent in HKCU and the Chrome profile in %LOCALAPPDATA%. On its first run for a user it
    enrols itself with the secret from agent.ini and keeps its node key in that user's
    %LOCALAPPDATA%\ReadyFloor. Enrolling here, as the administrator, would store the key in
    the administrator's profile, where the users' agents cannot see it.

    Needs Python 3.9 or newer installed for all users (python.org installer with
    InstallAllUsers=1, or your packaged build). A per-user Python under C:\Users cannot be
    used: the venv points at it and other users cannot read it.

.PARAMETER Server
    The ReadyFloor server URL as the agents reach it, e.g. https://readyfloor.example.com

.PARAMETER EnrollSecret
    Enrolment secret from the server. Stored in agent.ini, which every user of the seat can
    read (their agents need it); use a secret per site or floor and rotate it after rollout.

.PARAMETER Seat
    Where this workstation sits: FLOOR/LABEL, e.g. "Floor 1/A-01".

.PARAMETER Package
    What to pip-install: the agent source folder (default: agent\ of the repository this
    script is in) or a built wheel, e.g. \\fileserver\readyfloor\readyfloor_agent-0.1.0-py3-none-any.whl

.PARAMETER Python
    python.exe to build the venv from. Default: the py launcher's Python 3, else python.exe on PATH.

.PARAMETER CaFile
    PEM bundle to trust for the server's certificate (internal CA).

.PARAMETER KeepSettings
    Upgrade only: reinstall the package and task, leave an existing agent.ini as it is.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install-agent.ps1 -Server https://readyfloor.example.com -EnrollSecret "s3cret" -Seat "Floor 1/A-01"

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install-agent.ps1 -KeepSettings -Package \\fileserver\readyfloor\readyfloor_agent-0.2.0-py3-none-any.whl
#>
#Requires -Version 5.1
#Requires -RunAsAdministrator
[CmdletBinding(DefaultParameterSetName = 'Configure')]
param(
    [Parameter(Mandatory = $true, ParameterSetName = 'Configure')]
    [string] $Server,
    [Parameter(ParameterSetName = 'Configure')]
    [string] $EnrollSecret,
    [Parameter(ParameterSetName = 'Configure')]
    [string] $Seat,
    [Parameter(ParameterSetName = 'Configure')]
    [string] $CaFile,
    [Parameter(Mandatory = $true, ParameterSetName = 'Upgrade')]
    [switch] $KeepSettings,
    [string] $Package = (Join-Path $PSScriptRoot '..\..\..\agent'),
    [string] $Python,
    [string] $InstallRoot = (Join-Path $env:ProgramData 'ReadyFloor')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TaskName = 'ReadyFloor Agent'
$TaskPath = '\ReadyFloor\'
$TaskXml = Join-Path $PSScriptRoot 'readyfloor-agent-task.xml'
$Launcher = Join-Path $PSScriptRoot 'run-agent.pyw'
$Venv = Join-Path $InstallRoot 'venv'
$VenvPython = Join-Path $Venv 'Scripts\python.exe'
$SettingsFile = Join-Path $InstallRoot 'agent.ini'

function Invoke-Native {
    # Native programs report failure by exit code, which $ErrorActionPreference ignores; and in
    # Windows PowerShell 5.1 'Stop' would abort on any line they write to stderr (pip's
    # warnings), so judge them by $LASTEXITCODE alone.
    param([string] $What, [scriptblock] $Command)
    $ErrorActionPreference = 'Continue'
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)" }
}

function Resolve-Python {
    param([string] $Requested)
    $ErrorActionPreference = 'Continue'  # probes may write to stderr; exit codes decide
    $candidates = @()
    if ($Requested) {
        $candidates += $Requested
    } else {
        $launcher = Get-Command py.exe -ErrorAction SilentlyContinue
        if ($launcher) {
            $found = & $launcher.Source -3 -c "import sys; print(sys.executable)" 2>$null
            if ($LASTEXITCODE -eq 0 -and $found) { $candidates += ([string]$found).Trim() }
        }
        $onPath = Get-Command python.exe -ErrorAction SilentlyContinue
        if ($onPath) { $candidates += $onPath.Source }
    }
    $usersRoot = Join-Path $env:SystemDrive 'Users'
    foreach ($candidate in $candidates) {
        if (-not (Test-Path -LiteralPath $candidate -PathType Leaf)) { continue }
        if ($candidate -like "$usersRoot\*") {
            Write-Warning "Skipping $candidate : a per-user Python is not readable by other users of the seat."
            continue
        }
        # The Microsoft Store alias (WindowsApps\python.exe) fails here too, as it should.
        & $candidate -c "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)" 2>$null
        if ($LASTEXITCODE -eq 0) { return $candidate }
    }
    throw 'No usable Python 3.9+ found. Install Python for all users or pass -Python C:\path\to\python.exe'
}

function Set-InstallRootAcl {
    param([string] $Path)
    New-Item -ItemType Directory -Force -Path $Path | Out-Null
    # Well-known SIDs, so this works on any display language:
    # S-1-5-18 SYSTEM, S-1-5-32-544 Administrators, S-1-5-32-545 Users.
    Invoke-Native 'icacls (owner)' { icacls $Path /setowner '*S-1-5-32-544' /T /C /Q | Out-Null }
    Invoke-Native 'icacls (grant)' {
        icacls $Path /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-32-545:(OI)(CI)RX' /Q | Out-Null
    }
    if (Get-ChildItem -LiteralPath $Path -Force | Select-Object -First 1) {
        # Anything already inside (an earlier install, or files a user left) gets the same rights.
        Invoke-Native 'icacls (reset children)' { icacls (Join-Path $Path '*') /reset /T /C /Q | Out-Null }
    }
}

function Stop-RunningAgent {
    $task = Get-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath -ErrorAction SilentlyContinue
    if ($task) { Stop-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath }
    # The venv cannot be replaced while an agent still runs from it (Windows locks the files).
    Get-Process -Name python, pythonw -ErrorAction SilentlyContinue |
        Where-Object { $_.Path -and $_.Path.StartsWith($Venv, [StringComparison]::OrdinalIgnoreCase) } |
        Stop-Process -Force
}

function Write-AgentSettings {
    foreach ($value in @($Server, $EnrollSecret, $Seat, $CaFile)) {
        if ($value -match "[\r\n]") { throw 'Settings values must be on one line.' }
    }
    $lines = @(
        '; Written by install-agent.ps1. Read by the ReadyFloor agent in every user session.',
        '[agent]',
        "server = $Server"
    )
    if ($EnrollSecret) { $lines += "enroll_secret = $EnrollSecret" }
    if ($Seat) { $lines += "seat = $Seat" }
    if ($CaFile) { $lines += "ca_file = $CaFile" }
    # UTF-8 without a byte order mark: the agent's INI parser would read a BOM as text.
    $utf8 = New-Object System.Text.UTF8Encoding($false)
    [System.IO.File]::WriteAllText($SettingsFile, (($lines -join "`r`n") + "`r`n"), $utf8)
}

function Test-Server {
    param([string] $Url)
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    try {
        Invoke-WebRequest -Uri ($Url.TrimEnd('/') + '/healthz') -UseBasicParsing -TimeoutSec 10 | Out-Null
        Write-Host "Server $Url answers."
    } catch {
        # Not fatal: the agent keeps its reports on disk until the server is reachable.
        Write-Warning "Server $Url did not answer /healthz: $($_.Exception.Message)"
    }
}

if ($PSCmdlet.ParameterSetName -eq 'Upgrade' -and -not (Test-Path -LiteralPath $SettingsFile)) {
    throw "-KeepSettings given but $SettingsFile does not exist; run with -Server first."
}
foreach ($required in @($TaskXml, $Launcher)) {
    if (-not (Test-Path -LiteralPath $required)) { throw "Missing $required (keep this script next to it)." }
}

$pythonExe = Resolve-Python -Requested $Python
Write-Host "Using Python: $pythonExe"

Stop-RunningAgent
Set-InstallRootAcl -Path $InstallRoot

Write-Host "Creating virtual environment in $Venv"
Invoke-Native 'python -m venv' { & $pythonExe -m venv --clear $Venv }
Invoke-Native 'pip install' {
    & $VenvPython -m pip install --disable-pip-version-check --no-input --upgrade $Package
}
Copy-Item -LiteralPath $Launcher -Destination (Join-Path $InstallRoot 'run-agent.pyw') -Force

if ($PSCmdlet.ParameterSetName -eq 'Configure') {
    Write-AgentSettings
    Test-Server -Url $Server
}
# New files inherit the folder's rights; re-apply in case something was copied with its own.
Invoke-Native 'icacls (reset)' { icacls (Join-Path $InstallRoot '*') /reset /T /C /Q | Out-Null }

$xml = Get-Content -LiteralPath $TaskXml -Raw
$xml = $xml.Replace('C:\ProgramData\ReadyFloor', $InstallRoot.TrimEnd('\'))
# Register-ScheduledTask hands the XML over as UTF-16 text; a declaration naming another
# encoding makes Task Scheduler reject it, so drop the declaration.
$xml = $xml -replace '^\s*<\?xml[^>]*\?>', ''
Register-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath -Xml $xml -Force | Out-Null
Write-Host "Registered task $TaskPath$TaskName"

# Starts it for signed-in members of Users; otherwise it starts at their next sign-in.
Start-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath
Write-Host "Done. Per-user log: %LOCALAPPDATA%\ReadyFloor\logs\agent.log"
