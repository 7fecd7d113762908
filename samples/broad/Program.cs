// Broad console sample (judged, never used for training): small real work in 16 unrelated framework areas (JSON,
// LINQ, Regex, globalization, XML, compression, crypto, files, async/Channels/Parallel, collections, Span/text,
// date/time zones, reflection/expressions, numerics, seeded Random, Uri/encodings); prints a digest, startup-ms, jit-methods.
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Linq.Expressions;
using System.Net;
using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using System.Xml;
using System.Xml.Linq;

// Everything that goes into the digest is formatted with the invariant culture, whatever LANG says.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;

var areas = new (string Name, Func<Task<string>> Run)[]
{
    ("json", () => Task.FromResult(Areas.Json())),
    ("linq", () => Task.FromResult(Areas.Linq())),
    ("regex", () => Task.FromResult(Areas.Regexes())),
    ("xml", () => Task.FromResult(Areas.Xml())),
    ("compression", () => Task.FromResult(Areas.Compression())),
    ("crypto", () => Task.FromResult(Areas.Crypto())),
    ("files", Areas.FilesAsync),
    ("async", Areas.AsyncWorkAsync),
    ("collections", () => Task.FromResult(Areas.Collections())),
    ("text", () => Task.FromResult(Areas.Text())),
    ("datetime", () => Task.FromResult(Areas.DateTimes())),
    ("reflection", () => Task.FromResult(Areas.Reflection())),
    ("numerics", () => Task.FromResult(Areas.Numerics())),
    ("random", () => Task.FromResult(Areas.SeededRandom())),
    ("encoding", () => Task.FromResult(Areas.Encodings())),
};

// `--times` (diagnostics only) prints each area's wall time to stderr; the first area also pays for shared start-up work.
var times = args.Contains("--times");
using var digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
foreach (var (name, run) in areas)
{
    var clock = Stopwatch.StartNew();
    var result = await run();
    digest.AppendData(Encoding.UTF8.GetBytes($"{name}={result}\n"));
    if (times) Console.Error.WriteLine($"time {name}: {clock.Elapsed.TotalMilliseconds:F1} ms");
}
// Culture- and tzdata-dependent results are reported on their own lines, not in the digest: they differ with
// and without ICU / tzdata (and between ICU versions), the rest must not.
var (globalizationMode, globalizationResult) = Areas.Globalization();
var (tzMode, tzResult) = Areas.TimeZones();

Console.WriteLine($"Hello from {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier}");
Console.WriteLine($"areas: {areas.Length + 2} ({string.Join(' ', areas.Select(a => a.Name))} globalization timezones)");
Console.WriteLine($"globalization: {globalizationMode}: {globalizationResult}");
Console.WriteLine($"timezones: {tzMode}: {tzResult}");
Console.WriteLine($"work: {areas.Length} deterministic areas, digest {Areas.Hex(digest.GetHashAndReset())[..12]}");
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

// -- data used by several areas ------------------------------------------------------------------------------------

enum Status { Draft, Submitted, Shipped, Cancelled }

record Address(string Street, string City, string Country);

record LineItem(string Sku, int Quantity, decimal UnitPrice);

record Customer(int Id, string Name, Address Address, string[] Tags);

record Invoice(Guid Id, Customer Customer, List<LineItem> Lines, Status Status, DateTimeOffset Issued,
    Dictionary<string, string>? Notes = null)
{
    [JsonIgnore] public decimal Total => Lines.Sum(l => l.Quantity * l.UnitPrice);
}

[AttributeUsage(AttributeTargets.Property)]
sealed class ColumnAttribute(string name, int order) : Attribute
{
    public string Name { get; } = name;
    public int Order { get; } = order;
}

sealed class Employee
{
    [Column("emp_id", 0)] public int Id { get; set; }
    [Column("full_name", 1)] public string Name { get; set; } = "";
    [Column("dept", 2), Description("department code")] public string Department { get; set; } = "";
    [Column("salary", 3)] public decimal Salary { get; set; }
    public DateOnly Hired { get; set; }
    public override string ToString() => $"{Name}/{Department}";
    public string Describe(string prefix, int times) => string.Concat(Enumerable.Repeat(prefix, times)) + Name;
}

static class Data
{
    public static readonly string[] Departments = ["eng", "ops", "sales", "legal", "hr"];

    public static List<Employee> Employees()
    {
        var list = new List<Employee>();
        for (int i = 0; i < 60; i++)
        {
            list.Add(new Employee
            {
                Id = 1000 + i,
                Name = $"Person {i:D2}",
                Department = Departments[(i * 7) % Departments.Length],
                Salary = 40_000m + (i * 1_337m) % 50_000m,
                Hired = new DateOnly(2010 + i % 14, 1 + i % 12, 1 + i % 28),
            });
        }
        return list;
    }

    public static Invoice Invoice(int n) => new(
        new Guid(n, 0x1234, 0x5678, [1, 2, 3, 4, 5, 6, 7, (byte)n]),
        new Customer(n, $"Customer \"{n}\" & Söhne", new Address($"{n} Main St", "Zürich", "CH"), ["b2b", $"tier-{n % 3}"]),
        Enumerable.Range(1, 3 + n % 4).Select(i => new LineItem($"SKU-{n}-{i}", i, 9.99m * i + n)).ToList(),
        (Status)(n % 4),
        new DateTimeOffset(2024, 1 + n % 12, 1 + n % 28, n % 24, 0, 0, TimeSpan.FromHours(n % 3)),
        n % 2 == 0 ? new() { ["po"] = $"PO-{n}", ["gift"] = "yes" } : null);
}

static class Areas
{
    // -- System.Text.Json: reflection-based serializer over a record graph, JsonDocument, JsonNode, Utf8JsonWriter --
    public static string Json()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = false,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        };
        var invoices = Enumerable.Range(1, 8).Select(Data.Invoice).ToList();
        var json = JsonSerializer.Serialize(invoices, options);
        var back = JsonSerializer.Deserialize<List<Invoice>>(json, options)!;
        var sameTotals = back.Select(i => i.Total).SequenceEqual(invoices.Select(i => i.Total));

        using var doc = JsonDocument.Parse(json);
        var cities = doc.RootElement.EnumerateArray()
            .Select(e => e.GetProperty("customer").GetProperty("address").GetProperty("city").GetString())
            .Distinct().Count();
        var shipped = doc.RootElement.EnumerateArray().Count(e => e.GetProperty("status").GetString() == "shipped");

        var node = JsonNode.Parse("""{"a":[1,2,3],"b":{"c":"d"}}""")!;
        node["a"]!.AsArray().Add(4);
        node["b"]!["e"] = JsonValue.Create(2.5);

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("count", back.Count);
            writer.WriteString("first", back[0].Customer.Name);
            writer.WriteEndObject();
        }
        return $"{json.Length}:{sameTotals}:{cities}:{shipped}:{node.ToJsonString()}:{Encoding.UTF8.GetString(buffer.WrittenSpan)}";
    }

    // -- LINQ: GroupBy, Join, OrderBy/ThenBy, aggregates, set operators, Chunk, Zip, CountBy/AggregateBy --
    public static string Linq()
    {
        var employees = Data.Employees();
        var depts = Data.Departments.Select((d, i) => (Code: d, Floor: i + 1)).ToList();
        var byDept = employees.GroupBy(e => e.Department)
            .Select(g => new { g.Key, Count = g.Count(), Avg = g.Average(e => e.Salary), Max = g.Max(e => e.Salary) })
            .OrderByDescending(g => g.Avg).ThenBy(g => g.Key)
            .ToList();
        var joined = employees.Join(depts, e => e.Department, d => d.Code, (e, d) => (e.Name, d.Floor))
            .Where(x => x.Floor % 2 == 1).OrderBy(x => x.Name, StringComparer.Ordinal).Take(5).Select(x => $"{x.Name}@{x.Floor}");
        var lookup = employees.ToLookup(e => e.Hired.Year / 5 * 5);
        var chunks = employees.Select(e => e.Id).Chunk(7).Select(c => c.Sum()).ToArray();
        var zipped = chunks.Zip(chunks.Skip(1), (a, b) => b - a).Distinct().Count();
#if NET9_0_OR_GREATER
        var counts = employees.CountBy(e => e.Department).OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}{kv.Value}");
        var sums = employees.AggregateBy(e => e.Hired.Month % 3, 0m, (acc, e) => acc + e.Salary).OrderBy(kv => kv.Key).Select(kv => kv.Value);
#else   // .NET 8 has no CountBy/AggregateBy: the same results through GroupBy
        var counts = employees.GroupBy(e => e.Department).OrderBy(g => g.Key).Select(g => $"{g.Key}{g.Count()}");
        var sums = employees.GroupBy(e => e.Hired.Month % 3).OrderBy(g => g.Key).Select(g => g.Aggregate(0m, (acc, e) => acc + e.Salary));
#endif
        var union = Data.Departments.Union(["eng", "finance"]).Except(["hr"]).Order().ToArray();
        var anyAll = (employees.Any(e => e.Salary > 85_000m), employees.All(e => e.Id >= 1000));
        return string.Join(";", byDept.Select(g => $"{g.Key}:{g.Count}:{g.Avg:F2}:{g.Max}")) + "|" + string.Join(",", joined)
            + "|" + string.Join(",", lookup.OrderBy(g => g.Key).Select(g => $"{g.Key}x{g.Count()}")) + "|" + string.Join(",", chunks)
            + $"|{zipped}|{string.Join(",", counts)}|{string.Join(",", sums)}|{string.Join(",", union)}|{anyAll}";
    }

    // -- Regex: interpreted, RegexOptions.Compiled (emits IL at run time), NonBacktracking, named groups, Replace, Split --
    public static string Regexes()
    {
        const string log = """
            2024-03-01T10:15:00Z INFO  user=alice action=login ip=10.0.0.1 took=12ms
            2024-03-01T10:16:30Z WARN  user=bob action=upload ip=10.0.0.22 took=340ms size=1.5MB
            2024-03-01T10:17:02Z ERROR user=alice action=pay ip=10.0.0.1 took=1002ms code=E42
            2024-03-01T10:18:45Z INFO  user=carol action=logout ip=192.168.1.9 took=3ms
            """;
        var line = new Regex(@"^(?<ts>\S+)\s+(?<level>[A-Z]+)\s+(?<rest>.*)$", RegexOptions.Multiline);
        var kv = new Regex(@"(?<k>\w+)=(?<v>[^\s]+)", RegexOptions.Compiled | RegexOptions.CultureInvariant);
        var levels = new Dictionary<string, int>();
        long totalMs = 0;
        var users = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Match m in line.Matches(log))
        {
            levels[m.Groups["level"].Value] = levels.GetValueOrDefault(m.Groups["level"].Value) + 1;
            foreach (Match p in kv.Matches(m.Groups["rest"].Value))
            {
                if (p.Groups["k"].Value == "took") totalMs += long.Parse(p.Groups["v"].Value.TrimEnd('m', 's'));
                if (p.Groups["k"].Value == "user") users.Add(p.Groups["v"].Value);
            }
        }
        var ips = Regex.Replace(log, @"\b(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b", "$1.$2.x.x");
        var nonBacktracking = new Regex(@"(a|ab)*c|E\d+", RegexOptions.NonBacktracking);
        var nb = nonBacktracking.Matches(log + "ababc").Count;
        var words = Regex.Split("alpha, beta;gamma  delta|epsilon", @"[,;|\s]+");
        var valid = new[] { "user@example.com", "bad@", "x.y+z@sub.example.org" }
            .Count(s => Regex.IsMatch(s, @"^[\w.+-]+@[\w-]+(\.[\w-]+)+$", RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)));
        return $"{string.Join(",", levels.Select(p => $"{p.Key}={p.Value}"))}|{totalMs}|{string.Join(",", users)}|{ips.Count(c => c == 'x')}|{nb}|{words.Length}|{valid}";
    }

    // -- Globalization: specific cultures (ICU) or the invariant fallback, formatting, parsing, compare, casing --
    public static (string Mode, string Result) Globalization()
    {
        CultureInfo Get(string name)
        {
            try { return CultureInfo.GetCultureInfo(name); }
            catch (CultureNotFoundException) { return CultureInfo.InvariantCulture; } // invariant mode: predefined cultures only
        }
        var de = Get("de-DE");
        var mode = de.NumberFormat.NumberDecimalSeparator == "," ? "icu" : "invariant (no culture data)";
        var ja = Get("ja-JP");
        var tr = Get("tr-TR");
        var sv = Get("sv-SE");
        var date = new DateTime(2024, 2, 29, 13, 45, 10, DateTimeKind.Utc);
        var number = 1234567.891m;
        var parts = new List<string>
        {
            number.ToString("N2", de),
            number.ToString("C", Get("fr-FR")),
            date.ToString("D", de),
            date.ToString("d", ja),
            date.ToString("MMMM", Get("es-ES")),
            "istanbul".ToUpper(tr),
            string.Join("", new[] { "zebra", "ärlig", "apa", "Öl" }.OrderBy(s => s, StringComparer.Create(sv, false)).Select(s => s[0])),
            string.Compare("straße", "STRASSE", de, CompareOptions.IgnoreCase).ToString(),
            decimal.Parse(number.ToString("N1", de), NumberStyles.Number, de).ToString(CultureInfo.InvariantCulture),
            de.CompareInfo.IndexOf("Weißbier", "SS", CompareOptions.IgnoreCase).ToString(),
            "résumé".Normalize(NormalizationForm.FormD).Length.ToString(),
        };
        try { parts.Add(new RegionInfo("DE").ISOCurrencySymbol); }
        catch (ArgumentException) { parts.Add("no region data"); } // invariant mode knows no regions
        return (mode, string.Join(" | ", parts));
    }

    // -- System.Xml: build an XDocument, LINQ to XML query, XmlWriter, XmlReader streaming, namespaces --
    public static string Xml()
    {
        XNamespace ns = "urn:example:catalog";
        var doc = new XDocument(
            new XDeclaration("1.0", "utf-8", null),
            new XElement(ns + "catalog", new XAttribute("version", "2"),
                Enumerable.Range(1, 12).Select(i => new XElement(ns + "book",
                    new XAttribute("id", $"bk{i:D3}"),
                    new XElement(ns + "title", $"Title {i} <&>"),
                    new XElement(ns + "price", (i * 3.25m).ToString(CultureInfo.InvariantCulture)),
                    new XElement(ns + "genre", i % 3 == 0 ? "fantasy" : "computer")))));
        var text = doc.ToString();
        var parsed = XDocument.Parse(text);
        var fantasy = parsed.Descendants(ns + "book").Where(b => (string?)b.Element(ns + "genre") == "fantasy")
            .Sum(b => (decimal)b.Element(ns + "price")!);

        var sb = new StringBuilder();
        using (var w = XmlWriter.Create(sb, new XmlWriterSettings { Indent = true, OmitXmlDeclaration = true }))
        {
            w.WriteStartElement("summary");
            w.WriteAttributeString("books", parsed.Root!.Elements().Count().ToString(CultureInfo.InvariantCulture));
            w.WriteElementString("fantasyTotal", fantasy.ToString(CultureInfo.InvariantCulture));
            w.WriteCData("raw ]]> text");
            w.WriteEndElement();
        }

        int elements = 0, attributes = 0, textChars = 0;
        using (var r = XmlReader.Create(new StringReader(text), new XmlReaderSettings { IgnoreWhitespace = true }))
        {
            while (r.Read())
            {
                if (r.NodeType == XmlNodeType.Element) { elements++; attributes += r.AttributeCount; }
                else if (r.NodeType == XmlNodeType.Text) textChars += r.Value.Length;
            }
        }
        return $"{text.Length}:{fantasy}:{elements}:{attributes}:{textChars}:{sb}";
    }

    // -- Compression: GZip, Brotli, Deflate and a zip archive, round-tripped in memory --
    public static string Compression()
    {
        var input = Encoding.UTF8.GetBytes(string.Join("\n", Enumerable.Range(0, 2000).Select(i => $"line {i % 37} of a fairly repetitive text {i % 5}")));
        static byte[] RoundTrip(byte[] data, Func<Stream, Stream> compress, Func<Stream, Stream> decompress, out bool smaller)
        {
            var packed = new MemoryStream();
            using (var c = compress(packed)) c.Write(data);
            smaller = packed.Length < data.Length / 4;
            var unpacked = new MemoryStream();
            using (var d = decompress(new MemoryStream(packed.ToArray()))) d.CopyTo(unpacked);
            return unpacked.ToArray();
        }
        var gz = RoundTrip(input, s => new GZipStream(s, CompressionLevel.Optimal, leaveOpen: true), s => new GZipStream(s, CompressionMode.Decompress), out var gzSmall);
        var br = RoundTrip(input, s => new BrotliStream(s, CompressionLevel.Fastest, leaveOpen: true), s => new BrotliStream(s, CompressionMode.Decompress), out var brSmall);
        var df = RoundTrip(input, s => new DeflateStream(s, CompressionLevel.SmallestSize, leaveOpen: true), s => new DeflateStream(s, CompressionMode.Decompress), out var dfSmall);

        var zipBytes = new MemoryStream();
        using (var zip = new ZipArchive(zipBytes, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var name in new[] { "a.txt", "dir/b.txt", "dir/c.json" })
            {
                using var w = new StreamWriter(zip.CreateEntry(name, CompressionLevel.Fastest).Open());
                w.Write($"content of {name}\n");
            }
        }
        zipBytes.Position = 0;
        using var read = new ZipArchive(zipBytes, ZipArchiveMode.Read);
        var entries = read.Entries.Select(e => { using var r = new StreamReader(e.Open()); return $"{e.FullName}={r.ReadToEnd().Length}"; });
        // Compressed sizes depend on the zlib/brotli build, so only the round trips and "it got much smaller" count.
        return $"{gz.AsSpan().SequenceEqual(input)}{gzSmall}:{br.AsSpan().SequenceEqual(input)}{brSmall}:{df.AsSpan().SequenceEqual(input)}{dfSmall}:{string.Join(",", entries)}";
    }

    public static string Hex(byte[] bytes) =>
#if NET9_0_OR_GREATER
        Convert.ToHexStringLower(bytes);
#else   // .NET 8: no ToHexStringLower
        Convert.ToHexString(bytes).ToLowerInvariant();
#endif

    // -- Cryptography: SHA-256/512, HMAC, AES-CBC and AES-GCM round trips, PBKDF2, ECDSA sign/verify --
    public static string Crypto()
    {
        var data = Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog");
        var key = SHA256.HashData("fixed key material"u8);
        var sha256 = Hex(SHA256.HashData(data));
        var sha512 = Hex(SHA512.HashData(data))[..16];
        var hmac = Hex(HMACSHA256.HashData(key, data));

        using var aes = Aes.Create();
        aes.Key = key;
        var iv = MD5.HashData("iv"u8);
        var cipher = aes.EncryptCbc(data, iv);
        var plain = aes.DecryptCbc(cipher, iv);

        using var gcm = new AesGcm(key, tagSizeInBytes: 16);
        var nonce = new byte[12];
        var gcmCipher = new byte[data.Length];
        var tag = new byte[16];
        gcm.Encrypt(nonce, data, gcmCipher, tag, "aad"u8);
        var gcmPlain = new byte[data.Length];
        gcm.Decrypt(nonce, gcmCipher, tag, gcmPlain, "aad"u8);

        var derived = Rfc2898DeriveBytes.Pbkdf2("password"u8, "salt-salt"u8, 1000, HashAlgorithmName.SHA256, 16);

        // ECDSA signatures are randomized: only "verifies" and "tampered does not" are deterministic.
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sig = ec.SignData(data, HashAlgorithmName.SHA256);
        var ok = ec.VerifyData(data, sig, HashAlgorithmName.SHA256);
        var tampered = (byte[])data.Clone();
        tampered[0] ^= 1;
        var bad = ec.VerifyData(tampered, sig, HashAlgorithmName.SHA256);
        var random = RandomNumberGenerator.GetBytes(32).Length;
        return $"{sha256[..16]}:{sha512}:{hmac[..16]}:{Hex(cipher)[..16]}:{plain.AsSpan().SequenceEqual(data)}"
            + $":{Hex(tag)[..8]}:{gcmPlain.AsSpan().SequenceEqual(data)}:{Hex(derived)}:{ok}{bad}:{random}";
    }

    // -- System.IO: a private temp directory (never the app folder): write, append, stream, enumerate, move, delete --
    public static async Task<string> FilesAsync()
    {
        var dir = Directory.CreateTempSubdirectory("dci-broad-");
        try
        {
            var sub = dir.CreateSubdirectory("nested/deeper");
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "a.txt"), "alpha\nbeta\n");
            await File.AppendAllLinesAsync(Path.Combine(dir.FullName, "a.txt"), ["gamma", "delta"]);
            await File.WriteAllBytesAsync(Path.Combine(sub.FullName, "b.bin"), Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray());
            await using (var fs = new FileStream(Path.Combine(dir.FullName, "nested", "c.csv"), FileMode.Create, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            await using (var w = new StreamWriter(fs, Encoding.UTF8))
            {
                for (int i = 0; i < 200; i++) await w.WriteLineAsync($"{i},{i * i},{(i % 2 == 0 ? "even" : "odd")}");
            }
            File.Move(Path.Combine(dir.FullName, "a.txt"), Path.Combine(dir.FullName, "renamed.txt"));
            File.Copy(Path.Combine(dir.FullName, "renamed.txt"), Path.Combine(sub.FullName, "copy.txt"));

            var lines = await File.ReadAllLinesAsync(Path.Combine(dir.FullName, "renamed.txt"));
            long csvSum = 0;
            using (var r = new StreamReader(Path.Combine(dir.FullName, "nested", "c.csv")))
            {
                string? l;
                while ((l = await r.ReadLineAsync()) != null) csvSum += long.Parse(l.Split(',')[1]);
            }
            var bytes = await File.ReadAllBytesAsync(Path.Combine(sub.FullName, "b.bin"));
            var listing = Directory.EnumerateFiles(dir.FullName, "*", SearchOption.AllDirectories)
                .Select(f => $"{Path.GetRelativePath(dir.FullName, f).Replace('\\', '/')}={new FileInfo(f).Length}")
                .Order(StringComparer.Ordinal).ToList();
            var info = new FileInfo(Path.Combine(dir.FullName, "renamed.txt"));
            var fresh = DateTime.UtcNow - info.LastWriteTimeUtc < TimeSpan.FromMinutes(5);
            return $"{string.Join("/", lines)}:{csvSum}:{bytes.Sum(b => b)}:{string.Join(",", listing)}:{fresh}:{Path.GetExtension("x/y.tar.gz")}";
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // -- Async: Task.WhenAll, a bounded Channel pipeline, Parallel.For/ForEachAsync, SemaphoreSlim, async streams --
    public static async Task<string> AsyncWorkAsync()
    {
        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(8) { SingleReader = true });
        var producer = Task.Run(async () =>
        {
            for (int i = 1; i <= 200; i++) await channel.Writer.WriteAsync(i);
            channel.Writer.Complete();
        });
        long consumed = 0;
        await foreach (var item in channel.Reader.ReadAllAsync()) consumed += item * item;
        await producer;

        long parallelSum = 0;
        Parallel.For(0, 10_000, () => 0L, (i, _, local) => local + (i % 97), local => Interlocked.Add(ref parallelSum, local));

        var bag = new ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(1, 32), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            await Task.Yield();
            bag.Add(i * 3);
        });

        using var gate = new SemaphoreSlim(2);
        var tasks = Enumerable.Range(1, 10).Select(async i =>
        {
            await gate.WaitAsync();
            try { await Task.Delay(1); return i * i; }
            finally { gate.Release(); }
        });
        var squares = await Task.WhenAll(tasks);

        static async IAsyncEnumerable<int> Fibs(int n)
        {
            int a = 0, b = 1;
            for (int i = 0; i < n; i++) { await Task.Yield(); yield return a; (a, b) = (b, a + b); }
        }
        var fibs = new List<int>();
        await foreach (var f in Fibs(15)) fibs.Add(f);

        var tcs = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ThreadPool.QueueUserWorkItem(_ => tcs.SetResult("pooled"));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var cancelled = false;
        try { await Task.Delay(1000, cts.Token); } catch (OperationCanceledException) { cancelled = true; }
        var vt = await ComputeAsync(21);
        return $"{consumed}:{parallelSum}:{bag.Sum()}:{squares.Sum()}:{string.Join(",", fibs)}:{await tcs.Task}:{cancelled}:{vt}";

        static async ValueTask<int> ComputeAsync(int x) { await Task.Yield(); return x * 2; }
    }

    // -- Collections: Dictionary/HashSet/SortedDictionary, immutable, frozen, concurrent, PriorityQueue, LinkedList, Queue/Stack, BitArray --
    public static string Collections()
    {
        var words = "it was the best of times it was the worst of times it was the age of wisdom".Split(' ');
        var freq = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var w in words) CollectionsMarshal.GetValueRefOrAddDefault(freq, w, out _)++;
        var sorted = new SortedDictionary<string, int>(freq, StringComparer.Ordinal);
        var set = new HashSet<string>(words);
        set.IntersectWith(["times", "age", "missing"]);

        var immutable = ImmutableArray.CreateRange(Enumerable.Range(1, 10)).Add(11).RemoveAt(0);
        var imDict = ImmutableDictionary<string, int>.Empty.Add("a", 1).SetItem("b", 2).Remove("a");
        var imList = ImmutableList.Create("x", "y").Insert(1, "m");
        var frozen = freq.ToFrozenDictionary(StringComparer.Ordinal);
        var frozenSet = words.ToFrozenSet();

        var concurrent = new ConcurrentDictionary<int, int>();
        Parallel.For(0, 1000, i => concurrent.AddOrUpdate(i % 10, 1, (_, v) => v + 1));
        var queue = new ConcurrentQueue<string>(["a", "b"]);
        queue.TryDequeue(out var dq);

        var pq = new PriorityQueue<string, (int, string)>();
        foreach (var (w, n) in freq) pq.Enqueue(w, (-n, w));
        var top = new List<string>();
        while (top.Count < 4 && pq.TryDequeue(out var w, out _)) top.Add(w);

        var linked = new LinkedList<int>([1, 2, 3]);
        linked.AddFirst(0);
        linked.AddAfter(linked.Find(2)!, 25);
        var stack = new Stack<int>([1, 2, 3]);
        var q = new Queue<int>([4, 5, 6]);
        var bits = new System.Collections.BitArray(64);
        for (int i = 0; i < 64; i += 3) bits[i] = true;
        var bitCount = 0;
        foreach (bool b in bits) if (b) bitCount++;
        var list = Enumerable.Range(0, 50).Select(i => (i * 37) % 50).ToList();
        list.Sort();
        var idx = list.BinarySearch(42);
        return $"{string.Join(",", sorted.Select(p => $"{p.Key}{p.Value}"))}|{string.Join(",", set.Order(StringComparer.Ordinal))}|{immutable.Sum()}:{immutable.Length}"
            + $"|{string.Join(",", imDict.Keys)}|{string.Join("", imList)}|{frozen["was"]}:{frozenSet.Contains("wisdom")}"
            + $"|{string.Join(",", concurrent.OrderBy(p => p.Key).Select(p => p.Value))}|{dq}|{string.Join(",", top)}"
            + $"|{string.Join(",", linked)}|{stack.Pop()}{q.Dequeue()}|{bitCount}|{idx}";
    }

    // -- Span/Memory and text building: string.Create, StringBuilder, stackalloc, ArrayPool, span parsing, SearchValues --
    public static string Text()
    {
        var csv = "12,7,-3,40,15,8,23,-11,0,99";
        ReadOnlySpan<char> span = csv;
        long sum = 0;
#if NET9_0_OR_GREATER
        foreach (var range in span.Split(','))
            sum += int.Parse(span[range], CultureInfo.InvariantCulture);
#else   // .NET 8: no span Split enumerator; walk the commas by hand
        for (var left = span; !left.IsEmpty;)
        {
            var comma = left.IndexOf(',');
            sum += int.Parse(comma < 0 ? left : left[..comma], CultureInfo.InvariantCulture);
            left = comma < 0 ? ReadOnlySpan<char>.Empty : left[(comma + 1)..];
        }
#endif

        var created = string.Create(20, 'a', (chars, start) =>
        {
            for (int i = 0; i < chars.Length; i++) chars[i] = (char)(start + i % 26);
        });
        Span<int> stack = stackalloc int[16];
        for (int i = 0; i < stack.Length; i++) stack[i] = i * i;
        stack.Reverse();
        var rented = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            BinaryPrimitives.WriteInt32BigEndian(rented, 0x01020304);
            BinaryPrimitives.WriteInt64LittleEndian(rented.AsSpan(4), long.MaxValue);
            sum += BinaryPrimitives.ReadInt16BigEndian(rented.AsSpan(1));
        }
        finally { ArrayPool<byte>.Shared.Return(rented); }

        var sb = new StringBuilder();
        for (int i = 0; i < 50; i++) sb.Append(i).Append(i % 10 == 9 ? '\n' : ' ');
        sb.Replace(" 1", " one").Insert(0, "[").Append(']');
        sb.AppendFormat(CultureInfo.InvariantCulture, "{0:X4}-{1,6:F3}-{2:P1}", 48879, Math.PI, 0.256);
        sb.AppendJoin('|', "x", "y", "z");

        var vowels = SearchValues.Create("aeiou");
        var text = "Span based text processing avoids allocations";
        var vowelCount = 0;
        var rest = text.AsSpan();
        int at;
        while ((at = rest.IndexOfAny(vowels)) >= 0) { vowelCount++; rest = rest[(at + 1)..]; }
        Memory<char> memory = text.ToCharArray();
        memory.Span[..4].ToArray().AsSpan().CopyTo(memory.Span[5..]);
        var trimmed = "  padded\t ".Trim().PadLeft(10, '*').Replace("dd", "D");
        var formatted = $"{123.456:F1}|{1e21}|{0.1 + 0.2}|{float.Epsilon}|{-0.0}|{int.MinValue}|{ulong.MaxValue:N0}";
        var ok = Utf8Check.TryWrite("Grüße 🌍"u8.Length, out _);
        return $"{sum}:{created}:{string.Join(",", stack.ToArray().Take(4))}:{sb.Length}:{sb.ToString().GetHashCodeStable()}:{vowelCount}:{new string(memory.Span)}:{trimmed}:{formatted}:{ok}";
    }

    private static class Utf8Check
    {
        public static bool TryWrite(int length, out int written)
        {
            Span<byte> buffer = stackalloc byte[64];
            var ok = Encoding.UTF8.TryGetBytes("Grüße 🌍", buffer, out written);
            return ok && written == length;
        }
    }

    private static string GetHashCodeStable(this string s)
    {
        // string.GetHashCode is randomized per process; FNV-1a is not.
        uint h = 2166136261;
        foreach (var c in s) h = (h ^ c) * 16777619;
        return h.ToString("x8", CultureInfo.InvariantCulture);
    }

    // -- Dates and times (UTC, no local zone): DateTime, DateTimeOffset, DateOnly/TimeOnly, TimeSpan, parsing, ISO 8601 --
    public static string DateTimes()
    {
        var t = new DateTime(2024, 2, 29, 23, 30, 0, DateTimeKind.Utc);
        var plusMonth = t.AddMonths(1).AddDays(1);
        var offset = new DateTimeOffset(t).ToOffset(TimeSpan.FromHours(5.5));
        var parsed = DateTimeOffset.ParseExact("2023-11-05T01:30:00-04:00", "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        var roundTrip = DateTime.Parse(t.ToString("O"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        var span = TimeSpan.FromMinutes(12345.5);
        var date = DateOnly.FromDateTime(t);
        var week = ISOWeek.GetWeekOfYear(t);
        var time = new TimeOnly(9, 15).Add(TimeSpan.FromHours(16), out var wrapped);
        var unix = new DateTimeOffset(t).ToUnixTimeSeconds();
        var fromUnix = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        var business = Enumerable.Range(0, 31).Select(d => new DateOnly(2024, 3, 1).AddDays(d)).Count(d => d.Month == 3 && d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday));
        var utc = TimeZoneInfo.ConvertTime(offset, TimeZoneInfo.Utc);
        return $"{plusMonth:O}|{offset:O}|{parsed.UtcDateTime:u}|{roundTrip == t}|{span:c}|{span.TotalHours:F2}|{date:yyyy-MM-dd}|{week}|{time}+{wrapped}"
            + $"|{unix}|{fromUnix:O}|{business}|{utc:O}|{DateTime.DaysInMonth(2100, 2)}|{t.DayOfYear}";
    }

    // -- Time zones: IANA zones when tzdata is installed, else UTC only (reported separately) --
    public static (string Mode, string Result) TimeZones()
    {
        var instant = new DateTimeOffset(2024, 7, 1, 12, 0, 0, TimeSpan.Zero);
        var parts = new List<string>();
        var found = 0;
        foreach (var id in new[] { "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe" })
        {
            try
            {
                var tz = TimeZoneInfo.FindSystemTimeZoneById(id);
                var local = TimeZoneInfo.ConvertTime(instant, tz);
                parts.Add($"{id}={local:HH:mm}{(tz.IsDaylightSavingTime(local) ? "dst" : "")}");
                found++;
            }
            catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
                parts.Add($"{id}=missing");
            }
        }
        var custom = TimeZoneInfo.CreateCustomTimeZone("Fixed+3", TimeSpan.FromHours(3), "Fixed+3", "Fixed+3");
        parts.Add($"custom={TimeZoneInfo.ConvertTime(instant, custom):HH:mm}");
        var mode = found > 0 ? "tzdata" : "utc-only (no tzdata)";
        return (mode, string.Join(" ", parts));
    }

    // -- Reflection: attributes, property get/set, Activator, MethodInfo.Invoke, generics, enums, expression trees --
    public static string Reflection()
    {
        var type = typeof(Employee);
        var columns = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Prop: p, Col: p.GetCustomAttribute<ColumnAttribute>()))
            .Where(x => x.Col != null).OrderBy(x => x.Col!.Order).ToList();
        var employee = (Employee)Activator.CreateInstance(type)!;
        foreach (var (prop, col) in columns)
        {
            object value = prop.PropertyType == typeof(int) ? 7 : prop.PropertyType == typeof(decimal) ? 12.5m : (object)$"{col!.Name}-value";
            prop.SetValue(employee, value);
        }
        var row = string.Join(",", columns.Select(c => $"{c.Col!.Name}={c.Prop.GetValue(employee)}"));
        var description = type.GetProperty(nameof(Employee.Department))!.GetCustomAttribute<DescriptionAttribute>()!.Description;
        var describe = (string)type.GetMethod(nameof(Employee.Describe))!.Invoke(employee, ["ab", 2])!;
        var generic = typeof(Enumerable).GetMethods().First(m => m.Name == nameof(Enumerable.Count) && m.GetParameters().Length == 1)
            .MakeGenericMethod(typeof(int)).Invoke(null, [new[] { 1, 2, 3 }]);
        var listType = typeof(Dictionary<,>).MakeGenericType(typeof(string), typeof(List<int>));
        var enumNames = string.Join(",", Enum.GetNames<Status>()) + "/" + Enum.Parse<Status>("shipped", ignoreCase: true);
        var recordProps = string.Join(",", typeof(Invoice).GetProperties().Select(p => p.Name).Order(StringComparer.Ordinal));
        var interfaces = typeof(List<int>).GetInterfaces().Length;

        // Expression trees, as ORMs and mappers build them: compiled to a delegate at run time.
        var p = Expression.Parameter(typeof(Employee), "e");
        var predicate = Expression.Lambda<Func<Employee, bool>>(
            Expression.AndAlso(
                Expression.GreaterThan(Expression.Property(p, nameof(Employee.Salary)), Expression.Constant(60_000m)),
                Expression.Equal(Expression.Property(p, nameof(Employee.Department)), Expression.Constant("eng"))), p).Compile();
        var matches = Data.Employees().Count(predicate);
        var getter = Expression.Lambda<Func<Employee, string>>(Expression.Property(p, nameof(Employee.Name)), p).Compile();

        return $"{row}|{description}|{describe}|{generic}|{listType.Name}|{enumNames}|{recordProps}|{interfaces > 5}|{matches}|{getter(employee)}";
    }

    // -- Numerics: BigInteger, Vector<T>/Vector128, Complex, decimal/double math, generic math, checked overflow --
    public static string Numerics()
    {
        BigInteger fact = BigInteger.One;
        for (int i = 2; i <= 60; i++) fact *= i;
        var pow = BigInteger.ModPow(7, 1000, BigInteger.Parse("1000000007"));
        var gcd = BigInteger.GreatestCommonDivisor(fact, BigInteger.Pow(6, 40));

        var values = Enumerable.Range(0, 1000).Select(i => (float)(i % 17)).ToArray();
        var acc = Vector<float>.Zero;
        int j = 0;
        for (; j <= values.Length - Vector<float>.Count; j += Vector<float>.Count) acc += new Vector<float>(values, j);
        var vsum = Vector.Sum(acc);
        for (; j < values.Length; j++) vsum += values[j];
        var v128 = Vector128.Create(1, 2, 3, 4) * Vector128.Create(5) + Vector128<int>.One;
        var v3 = Vector3.Normalize(new Vector3(3, 4, 0));
        var m = Matrix4x4.CreateRotationZ(MathF.PI / 2);
        var rotated = Vector3.Transform(Vector3.UnitX, m);
        var c = System.Numerics.Complex.Pow(new System.Numerics.Complex(1, 1), 8);
        static T SumAll<T>(IEnumerable<T> xs) where T : INumber<T> => xs.Aggregate(T.Zero, (a, b) => a + b);
        var overflow = false;
        try { _ = checked(int.MaxValue + int.Parse("1")); } catch (OverflowException) { overflow = true; }
        var money = Math.Round(1234.5678m * 1.075m, 2, MidpointRounding.ToEven);
        var dbl = Math.Sqrt(2) * Math.Log(10) + Math.Atan2(1, 1);
        var half = (Half)3.14159f;
        var i128 = (Int128)long.MaxValue * 1000;
        return $"{fact.ToString()[..20]}:{fact.GetBitLength()}:{pow}:{gcd}:{vsum}:{v128}:{v3.X:F2},{v3.Y:F2}:{MathF.Round(rotated.Y, 3)}:{c.Real}"
            + $":{SumAll([1, 2, 3])}:{SumAll([0.5, 0.25])}:{overflow}:{money}:{dbl:F6}:{half}:{i128}:{BitOperations.PopCount(0xF0F0u)}:{int.Log2(1000)}";
    }

    // -- Random with a fixed seed (same sequence on every run), shuffles, GetItems, a small Monte Carlo --
    public static string SeededRandom()
    {
        var rng = new Random(20240229);
        var ints = Enumerable.Range(0, 8).Select(_ => rng.Next(1000)).ToArray();
        var doubles = rng.NextDouble().ToString("F6", CultureInfo.InvariantCulture);
        var deck = Enumerable.Range(1, 20).ToArray();
        rng.Shuffle(deck);
        var picks = rng.GetItems(['r', 'g', 'b'], 12);
        var bytes = new byte[8];
        rng.NextBytes(bytes);
        int inside = 0;
        for (int i = 0; i < 20_000; i++)
        {
            double x = rng.NextDouble(), y = rng.NextDouble();
            if (x * x + y * y <= 1) inside++;
        }
        var big = rng.NextInt64(long.MaxValue / 2, long.MaxValue);
        return $"{string.Join(",", ints)}:{doubles}:{string.Join(",", deck)}:{new string(picks)}:{Convert.ToHexString(bytes)}:{4.0 * inside / 20_000:F3}:{big}";
    }

    // -- Uri and encodings: Uri parts, escaping, query strings, Base64/Base64Url, hex, UTF-8/16/32, Latin1, HTML/URL encode --
    public static string Encodings()
    {
        var uri = new Uri("https://user@例え.example.com:8443/a/b/../c/%7Efile.txt?q=1&name=J%C3%BCrgen#frag");
        var relative = new Uri(uri, "../d/e?x=y");
        var builder = new UriBuilder("http", "localhost", 8080, "api/v1/items") { Query = "page=2&size=10" };
        var query = uri.Query.TrimStart('?').Split('&').Select(p => p.Split('=')).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]));
        var escaped = Uri.EscapeDataString("a b&c=d/é");
        var text = "Grüße, 世界! 🚀";
        var utf8 = Encoding.UTF8.GetBytes(text);
        var b64 = Convert.ToBase64String(utf8);
        var back = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
#if NET9_0_OR_GREATER
        var b64url = System.Buffers.Text.Base64Url.EncodeToString(utf8);
#else   // .NET 8: no Base64Url; the same text from Base64
        var b64url = Convert.ToBase64String(utf8).TrimEnd('=').Replace('+', '-').Replace('/', '_');
#endif
        var utf16 = Encoding.Unicode.GetByteCount(text);
        var utf32 = Encoding.UTF32.GetByteCount(text);
        var latin1 = Encoding.Latin1.GetString(Encoding.Latin1.GetBytes("café?"));
        var ascii = Encoding.ASCII.GetString(Encoding.ASCII.GetBytes("naïve"));
        var html = WebUtility.HtmlEncode("<a href=\"x\">Tom & Jerry</a>");
        var url = WebUtility.UrlEncode("name=Jürgen & co");
        var runes = text.EnumerateRunes().Count();
        var ip = IPAddress.Parse("2001:db8::1").GetAddressBytes().Length + IPAddress.Parse("192.168.0.1").GetAddressBytes()[3];
        return $"{uri.Host}|{uri.IdnHost}|{uri.Port}|{uri.AbsolutePath}|{uri.Fragment}|{relative.PathAndQuery}|{builder.Uri}|{query["name"]}|{escaped}"
            + $"|{b64}|{back == text}|{b64url}|{utf8.Length}/{utf16}/{utf32}|{latin1}|{ascii}|{html}|{url}|{runes}|{ip}|{Convert.ToHexString(utf8[..4])}";
    }
}
