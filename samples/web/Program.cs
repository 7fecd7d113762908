// Web sample: minimal API on Kestrel. GET / answers text; GET /jit reports how many methods the
// JIT compiled so far and the time from process start to the first request (ms).
using System.Diagnostics;
using System.Runtime.InteropServices;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
double? firstRequestMs = null;

app.MapGet("/", () =>
{
    firstRequestMs ??= ElapsedMs();
    return $"Hello from {RuntimeInformation.FrameworkDescription} (ASP.NET Core)";
});
app.MapGet("/jit", () =>
{
    firstRequestMs ??= ElapsedMs();
    return $"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}\nfirst-request-ms: {firstRequestMs:F1}\n";
});
app.Run();

// Milliseconds since the process started. DCI_START_NS (Unix time in ns, set by the launcher with
// `date +%s%N` right before exec) is precise; Process.StartTime has 10 ms resolution.
static double ElapsedMs()
{
    var env = Environment.GetEnvironmentVariable("DCI_START_NS");
    if (long.TryParse(env, out var startNs))
    {
        var nowNs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        return (nowNs - startNs) / 1e6;
    }
    return (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
}
