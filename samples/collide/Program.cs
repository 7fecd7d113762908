// Uses System.Text.Json from its own package copy (11.0.0), not the framework's.
using System.Text.Json;

var asm = typeof(JsonSerializer).Assembly;
Console.WriteLine($"System.Text.Json {asm.GetName().Version} from {asm.Location}");
Console.WriteLine(JsonSerializer.Serialize(new { hello = "world" }));
