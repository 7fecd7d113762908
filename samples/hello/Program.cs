// Console sample: does a little real work (collections, LINQ, JSON, text), then reports what
// ran it and how many methods the JIT had to compile (far fewer when ReadyToRun code is used).
using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;

var words = "the quick brown fox jumps over the lazy dog".Split(' ');
var counts = words.GroupBy(w => w.Length).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
var json = JsonSerializer.Serialize(counts);
var culture = System.Globalization.CultureInfo.GetCultureInfo("de-DE");
var text = string.Create(culture, $"{1234567.891:N2}");

Console.WriteLine($"Hello from {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier}");
Console.WriteLine($"work: {json} {text}");
Console.WriteLine($"startup-ms: {Startup.ElapsedMs():F1}");
Console.WriteLine($"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}");

static class Startup
{
    // Milliseconds since the process started. DCI_START_NS (Unix time in ns, set by the launcher
    // with `date +%s%N` right before exec) is precise; Process.StartTime has 10 ms resolution.
    public static double ElapsedMs()
    {
        var env = Environment.GetEnvironmentVariable("DCI_START_NS");
        if (long.TryParse(env, out var startNs))
        {
            var nowNs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            return (nowNs - startNs) / 1e6;
        }
        return (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
    }
}
