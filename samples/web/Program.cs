// Web sample: minimal API on Kestrel. GET / answers text; GET /jit reports how many methods the
// JIT compiled so far and the time from process start to the first request.
using System.Diagnostics;
using System.Runtime.InteropServices;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
double? firstRequestMs = null;

app.MapGet("/", () =>
{
    firstRequestMs ??= (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
    return $"Hello from {RuntimeInformation.FrameworkDescription} (ASP.NET Core)";
});
app.MapGet("/jit", () =>
{
    firstRequestMs ??= (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
    return $"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}\nfirst-request-ms: {firstRequestMs:F1}\n";
});
app.Run();
