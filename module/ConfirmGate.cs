using System.Management.Automation;

namespace Dls.Module;

/// <summary>
/// ShouldProcess for removals (ConfirmImpact High) with <c>-Force</c>: -Force skips the confirmation prompt,
/// but -WhatIf (or $WhatIfPreference) still only describes and changes nothing.
/// </summary>
internal static class ConfirmGate
{
    public static bool Allows(PSCmdlet cmdlet, bool force, string target, string action)
    {
        if (force && !WhatIf(cmdlet) && !cmdlet.MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            return true;
        }

        return cmdlet.ShouldProcess(target, action);
    }

    private static bool WhatIf(PSCmdlet cmdlet) =>
        cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? LanguagePrimitives.IsTrue(value)
            : LanguagePrimitives.IsTrue(cmdlet.GetVariableValue("WhatIfPreference"));
}
