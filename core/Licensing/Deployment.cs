namespace Dls.Core.Licensing;

/// <summary>Where an item's product runs (SPEC §2); a request matches only items of its own deployment.</summary>
public enum Deployment
{
    Browser,
    Mobile,
    Desktop,
    Server,
    Embedded,
}
