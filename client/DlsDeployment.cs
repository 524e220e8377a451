namespace Dls.Client;

/// <summary>Where the application runs; a license item covers one deployment.</summary>
public enum DlsDeployment
{
    /// <summary>A web page (the application names its <see cref="DlsApplication.Domain"/>).</summary>
    Browser,

    /// <summary>A mobile app (the application names its <see cref="DlsApplication.AppId"/>).</summary>
    Mobile,

    /// <summary>A desktop application.</summary>
    Desktop,

    /// <summary>A server application.</summary>
    Server,

    /// <summary>An embedded device.</summary>
    Embedded,
}
