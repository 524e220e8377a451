using System.Management.Automation;
using Dls.Core.Alerts;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsAlertSetting")]
[OutputType(typeof(AlertSettingInfo))]
public sealed class GetDlsAlertSettingCommand : DlsCmdlet
{
    protected override void Process() => WriteObject(new AlertSettingsService(Store, Time).Get());
}
