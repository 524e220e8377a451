using System.Management.Automation;
using System.Security;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsLicenseKey")]
[OutputType(typeof(string))]
public sealed class GetDlsLicenseKeyCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [ValidateNotNullOrEmpty]
    public string Code { get; set; } = string.Empty;

    [Parameter]
    public SecureString? SessionPassword { get; set; }

    protected override void Process()
    {
        var result = new HandshakeCodeService(Store, Time).LicenseKey(Code, SecureStrings.ToPlain(SessionPassword));
        if (result.PasswordOmitted)
        {
            WriteWarning($"{Code} has a session password, which this key does not carry (the server keeps only its hash). Give it with -SessionPassword to embed it, or configure it in the application separately.");
        }

        if (result.CodeDisabled)
        {
            WriteWarning($"{Code} is disabled: applications using this key are refused until it is enabled (Set-DlsHandshakeCode -Enabled $true).");
        }

        WriteObject(result.Key);
    }
}
