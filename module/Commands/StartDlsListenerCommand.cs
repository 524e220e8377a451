using System.Diagnostics;
using System.Management.Automation;
using System.Security;
using Dls.Core.Errors;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Module.Hosting;

namespace Dls.Module.Commands;

[Cmdlet(VerbsLifecycle.Start, "DlsListener", SupportsShouldProcess = true)]
[OutputType(typeof(ListenerInfo))]
public sealed class StartDlsListenerCommand : DlsCmdlet
{
    public const string DefaultUrl = "http://127.0.0.1:48080/";

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Url { get; set; } = DefaultUrl;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of a PEM -CertificatePath; without it the certificate file is a PFX (or a PEM file holding the key too).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CertificateKeyPath { get; set; }

    /// <summary>The password of the PFX file or of the encrypted PEM key.</summary>
    [Parameter]
    public SecureString? CertificatePassword { get; set; }

    /// <summary>
    /// Main or Standby (SPEC §7); without it, the store's role (<c>Set-DlsServer -Role</c>). A standby answers error 100
    /// while a main listener of the store is alive, and serves once none is.
    /// </summary>
    [Parameter]
    public ServerRole? Role { get; set; }

    /// <summary>How long to wait for /healthz to answer.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override void Process()
    {
        var url = ListenerRegistry.NormalizeUrl(Url);
        var uri = new Uri(url);
        if (CertificatePath is not null && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new DlsException(ErrorIds.ListenerUrlInvalid, DlsErrorKind.InvalidArgument, "-CertificatePath needs an https:// -Url.", Url);
        }

        if (CertificatePath is null && (uri.Scheme == Uri.UriSchemeHttps || CertificateKeyPath is not null))
        {
            throw new DlsException(ErrorIds.CertificateMissing, DlsErrorKind.InvalidArgument, "An https:// -Url needs -CertificatePath (a PFX file, or a PEM file with -CertificateKeyPath).", Url);
        }

        var certificate = CertificatePath is null ? null : GetUnresolvedProviderPathFromPSPath(CertificatePath);
        var certificateKey = CertificateKeyPath is null ? null : GetUnresolvedProviderPathFromPSPath(CertificateKeyPath);
        foreach (var file in new[] { certificate, certificateKey })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new DlsException(ErrorIds.CertificateNotFound, DlsErrorKind.NotFound, $"The certificate file '{file}' does not exist.", file);
            }
        }

        var password = SecureStrings.ToPlain(CertificatePassword);

        // The probe below trusts this certificate and no other: whatever answers on the port must prove it is our listener.
        using var expected = certificate is null ? null : ListenerCertificate.ReadPublic(certificate, password);

        var server = new ServerService(Store, Time).Get();
        var role = Role ?? server.Role;
        var registry = new ListenerRegistry(Store, Time);
        var running = registry.List().FirstOrDefault(r => r.Url == url && ListenerProcess.FindAlive(r) is not null);
        if (running is not null)
        {
            throw new DlsException(
                ErrorIds.ListenerAlreadyRunning,
                DlsErrorKind.ResourceUnavailable,
                $"A listener of this store already runs at {url} (process {running.ProcessId}). Stop it with Stop-DlsListener -Url {url}.",
                url);
        }

        ListenerProcess.EnsurePortFree(uri);
        if (!ShouldProcess(url, $"Start a DLS {role} listener for store '{Store.Path}'"))
        {
            return;
        }

        var logDirectory = Path.Combine(StorePaths.FilesFolder(Store.Path), "logs");
        Directory.CreateDirectory(logDirectory);
        var logPath = Path.Combine(logDirectory, $"listener-{uri.Port}.log");
        var logStart = File.Exists(logPath) ? new FileInfo(logPath).Length : 0;
        using var process = ListenerProcess.Launch(Store.Path, url, role, certificate, certificateKey, password, logPath);
        WriteVerbose($"Started listener process {process.Id}; logs go to '{logPath}'.");

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(TimeoutSeconds))
        {
            CancellationToken.ThrowIfCancellationRequested();
            WriteProgress(new ProgressRecord(1, "Start-DlsListener", $"Waiting for {url}healthz") { SecondsRemaining = (int)(TimeoutSeconds - clock.Elapsed.TotalSeconds) });
            if (process.HasExited)
            {
                throw new DlsException(
                    ErrorIds.ListenerStartFailed,
                    DlsErrorKind.ResourceUnavailable,
                    $"The listener exited with code {process.ExitCode} before answering at {url}: {ReadLogTail(logPath, logStart)}",
                    url);
            }

            // Port 0: the system picks a free port; the listener records the address it bound, under its process id.
            if (uri.Port == 0)
            {
                if (registry.List().FirstOrDefault(r => r.ProcessId == process.Id) is not { } bound)
                {
                    Thread.Sleep(200);
                    continue;
                }

                url = bound.Url;
                uri = new Uri(url);
            }

            var uuid = ListenerProcess.ProbeAsync(url, expected, CancellationToken).GetAwaiter().GetResult();
            if (uuid == server.Uuid)
            {
                if (expected is not null)
                {
                    ListenerCertificate.Record(Store.Path, url, expected);
                }

                var record = registry.List().FirstOrDefault(r => r.Url == url)
                    ?? new ListenerRecord(url, process.Id, null, DateTime.UtcNow, string.Empty, role, Environment.MachineName);
                WriteProgress(new ProgressRecord(1, "Start-DlsListener", "Started") { RecordType = ProgressRecordType.Completed });
                WriteObject(ListenerInfo.Of(record, ListenerStatus.Running, uuid, Store.Path, Time.GetUtcNow()));
                return;
            }

            if (uuid is not null)
            {
                throw new DlsException(
                    ErrorIds.ListenerPortInUse,
                    DlsErrorKind.ResourceUnavailable,
                    $"Port {uri.Port} answers for another DLS server ({uuid}).",
                    url);
            }

            Thread.Sleep(200);
        }

        ListenerProcess.Stop(process, TimeSpan.FromSeconds(5));
        throw new DlsException(
            ErrorIds.ListenerStartTimeout,
            DlsErrorKind.ResourceUnavailable,
            $"The listener did not answer at {url}healthz within {TimeoutSeconds} s{(expected is null ? string.Empty : $" with the certificate {expected.Thumbprint}")} and was stopped: {ReadLogTail(logPath, logStart)}",
            url);
    }

    private static string ReadLogTail(string logPath, long from)
    {
        try
        {
            using var stream = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Max(from, stream.Length - 2000), SeekOrigin.Begin);
            var text = new StreamReader(stream).ReadToEnd().Trim();
            return text.Length == 0 ? "(no output)" : text;
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
