namespace Dls.Core.Server;

public enum ServerRole
{
    Main,
    Standby,
}
