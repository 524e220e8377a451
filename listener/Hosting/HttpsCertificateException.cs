namespace Dls.Listener.Hosting;

/// <summary>A certificate the listener cannot serve with; the message is meant for the administrator.</summary>
public sealed class HttpsCertificateException(string message) : Exception(message);
