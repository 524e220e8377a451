using System;
using System.Diagnostics;
#if !NET462
using System.Runtime.InteropServices;
#endif

namespace Dls.Client;

/// <summary>
/// Who is asking: the application's identity as the server's validation values and clone rule see it. <see cref="Name"/>
/// also names the application's cache folder, so two applications on one device keep separate caches.
/// </summary>
public sealed class DlsApplication
{
    /// <summary>An application identity; <paramref name="name"/> is a short name of the application (letters, digits, '.', '-', '_').</summary>
    public DlsApplication(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("An application needs a name.", nameof(name));
        }

        Name = name;
    }

    /// <summary>The application's name; its cache folder is named after it.</summary>
    public string Name { get; }

    /// <summary>The process name the server checks for Desktop, Server and Embedded requests (default: this process's).</summary>
    public string? ProcessName { get; set; } = CurrentProcessName();

    /// <summary>The web domain of a Browser application.</summary>
    public string? Domain { get; set; }

    /// <summary>The app id of a Mobile application.</summary>
    public string? AppId { get; set; }

    /// <summary>The operating system, as the server records it (default: this one's description).</summary>
#if NET462
    public string? Os { get; set; } = Environment.OSVersion.VersionString;
#else
    public string? Os { get; set; } = RuntimeInformation.OSDescription.Trim();
#endif

    /// <summary>The SDK's version, as the server records it.</summary>
    public string? SdkVersion { get; set; }

    /// <summary>The instance id for instance licenses (PerConcurrentInstance); null for the others.</summary>
    public string? InstanceId { get; set; }

    /// <summary>How many instance seats a Server instance asks for (PerConcurrentInstance); null for one.</summary>
    public int? InstanceCount { get; set; }

    private static string? CurrentProcessName()
    {
        try
        {
            using var process = Process.GetCurrentProcess();
            return process.ProcessName;
        }
        catch (Exception error) when (error is InvalidOperationException or PlatformNotSupportedException or NotSupportedException)
        {
            return null;
        }
    }
}
