using System.Management.Automation;
using Dls.Core.Server;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsServer")]
[OutputType(typeof(ServerInfo))]
public sealed class GetDlsServerCommand : DlsCmdlet
{
    protected override void Process() => WriteObject(new ServerService(Store, Time).Get());
}
