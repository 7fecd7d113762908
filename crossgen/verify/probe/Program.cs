// What .NET finds in the image it runs in, one "probe-<what>: <answer>" line each (verify's os probe):
// the user it runs as, globalization (ICU or invariant), a time zone, and the system's trusted roots.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

Console.WriteLine($"probe-runtime: {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier}");
Console.WriteLine($"probe-user: uid={Native.getuid()} name={Environment.UserName}");

try
{
    var german = CultureInfo.GetCultureInfo("de-DE", predefinedOnly: true);
    Console.WriteLine($"probe-icu: yes ({german.DateTimeFormat.GetMonthName(3)})");
}
catch (CultureNotFoundException)
{
    Console.WriteLine("probe-icu: no (globalization-invariant)");
}

try
{
    var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    var summer = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(2025, 7, 1, 12, 0, 0, DateTimeKind.Utc), berlin);
    Console.WriteLine($"probe-tz: yes (Europe/Berlin 2025-07-01 12:00Z = {summer:HH:mm})");
}
catch (TimeZoneNotFoundException)
{
    Console.WriteLine("probe-tz: no (Europe/Berlin not found)");
}

using (var store = new X509Store(StoreName.Root, StoreLocation.LocalMachine))
{
    store.Open(OpenFlags.ReadOnly);
    Console.WriteLine($"probe-roots: {store.Certificates.Count}");
}
// The root is only valid when the system trust store (the CA bundle) holds it: without it, UntrustedRoot.
using var root = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "isrg-root-x1.pem")));
using var chain = new X509Chain();
chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
chain.ChainPolicy.TrustMode = X509ChainTrustMode.System;
var trusted = chain.Build(root);
var status = string.Join(",", chain.ChainStatus.Select(s => s.Status.ToString()));
Console.WriteLine($"probe-trust: {(trusted ? "yes" : "no")} ({root.GetNameInfo(X509NameType.SimpleName, false)}{(status.Length > 0 ? ": " + status : "")})");

static class Native
{
    [DllImport("libc", SetLastError = false)]
    public static extern uint getuid();
}
