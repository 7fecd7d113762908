// Training console program (for recording profiles only; never judged): the same kinds of framework areas as samples/broad
// but different code and APIs — a small "warehouse report" job: JSON (polymorphism, streams, JsonNode), LINQ/PLINQ, Regex,
// globalization, XmlDocument/XPath, ZLib/zip files, crypto (RSA, HMAC-SHA512, AES), files, timers/channels/PLINQ, collections,
// formatting/spans, calendars/time zones, reflection/TypeConverters, numerics, hashing/Random, URL/HTML/IDN encodings.
// Same output protocol (work digest, startup-ms, jit-methods); `--repeat N` runs the work N times (for sampling profilers),
// `--times` prints each step's wall time to stderr.
using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Collections.ObjectModel;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.IO.MemoryMappedFiles;
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
using System.Web;
using System.Xml;
using System.Xml.XPath;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var repeat = 1;
var at = Array.IndexOf(args, "--repeat");
if (at >= 0 && at + 1 < args.Length) repeat = Math.Max(1, int.Parse(args[at + 1], CultureInfo.InvariantCulture));

var steps = new List<KeyValuePair<string, Func<ValueTask<string>>>>
{
    new("inventory-json", () => Warehouse.JsonReportAsync()),
    new("queries", () => ValueTask.FromResult(Warehouse.Queries())),
    new("parsing", () => ValueTask.FromResult(Warehouse.Parsing())),
    new("cultures", () => ValueTask.FromResult(Warehouse.Cultures())),
    new("xml-dom", () => ValueTask.FromResult(Warehouse.XmlDom())),
    new("archives", () => Warehouse.ArchivesAsync()),
    new("security", () => ValueTask.FromResult(Warehouse.Security())),
    new("storage", () => Warehouse.StorageAsync()),
    new("concurrency", () => Warehouse.ConcurrencyAsync()),
    new("structures", () => ValueTask.FromResult(Warehouse.Structures())),
    new("formatting", () => ValueTask.FromResult(Warehouse.Formatting())),
    new("calendar", () => ValueTask.FromResult(Warehouse.Calendar())),
    new("metadata", () => ValueTask.FromResult(Warehouse.Metadata())),
    new("math", () => ValueTask.FromResult(Warehouse.MathWork())),
    new("web-text", () => ValueTask.FromResult(Warehouse.WebText())),
};

string digest = "";
for (int r = 0; r < repeat; r++)
{
    using var sha = SHA1.Create();
    var all = new StringBuilder();
    foreach (var step in steps)
    {
        string result;
        var clock = Stopwatch.StartNew();
        try { result = await step.Value(); }
        catch (Exception e) when (e is CultureNotFoundException or TimeZoneNotFoundException or PlatformNotSupportedException)
        {
            result = $"unavailable: {e.GetType().Name}";
        }
        all.Append(step.Key).Append('=').Append(result).Append('\n');
        if (args.Contains("--times")) Console.Error.WriteLine($"time {step.Key}: {clock.Elapsed.TotalMilliseconds:F1} ms");
    }
    digest = Convert.ToHexString(sha.ComputeHash(Encoding.UTF8.GetBytes(all.ToString())))[..12].ToLowerInvariant();
}

Console.WriteLine($"Hello from {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier} (training)");
Console.WriteLine($"work: {steps.Count} steps x{repeat}, digest {digest} (culture/tz-dependent steps included)");
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

// -- model -----------------------------------------------------------------------------------------------------------

[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(Pallet), "pallet")]
[JsonDerivedType(typeof(Parcel), "parcel")]
abstract class Shipment
{
    public required string Code { get; init; }
    public double WeightKg { get; init; }
    public List<string> Labels { get; init; } = [];
}

sealed class Pallet : Shipment
{
    public int Layers { get; init; }
}

sealed class Parcel : Shipment
{
    public string? Carrier { get; init; }
    public DateOnly? DeliverBy { get; init; }
}

readonly record struct Bin(char Aisle, int Shelf, int Slot)
{
    public override string ToString() => $"{Aisle}{Shelf:D2}-{Slot}";
}

class StockItem
{
    [Description("stock keeping unit")] public string Sku { get; set; } = "";
    [DisplayName("Qty")] public int Quantity { get; set; }
    public Bin Location { get; set; }
    [TypeConverter(typeof(ExpandableObjectConverter))] public Dictionary<string, string> Attributes { get; set; } = [];
    [Obsolete("use Attributes")] public string? Legacy { get; set; }

    public static int CompareByQuantity(StockItem a, StockItem b) => a.Quantity.CompareTo(b.Quantity);
}

static class Warehouse
{
    private static List<StockItem> Stock() => Enumerable.Range(0, 80).Select(i => new StockItem
    {
        Sku = $"W{i % 13:D3}-{(char)('A' + i % 5)}",
        Quantity = (i * 17 + 3) % 41,
        Location = new Bin((char)('A' + i % 6), i % 9, i % 4),
        Attributes = new() { ["color"] = (i % 3) switch { 0 => "red", 1 => "green", _ => "blue" }, ["size"] = $"{i % 4}" },
    }).ToList();

    // JSON: polymorphic hierarchy through a stream, JsonNode editing, JsonElement walking, camelCase + enum options
    public static async ValueTask<string> JsonReportAsync()
    {
        List<Shipment> shipments =
        [
            new Pallet { Code = "P-1", WeightKg = 512.5, Layers = 4, Labels = ["fragile"] },
            new Parcel { Code = "C-7", WeightKg = 2.25, Carrier = "ACME", DeliverBy = new DateOnly(2024, 12, 24) },
            new Parcel { Code = "C-8", WeightKg = 0.5 },
            new Pallet { Code = "P-2", WeightKg = 120, Layers = 1 },
        ];
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower, WriteIndented = true };
        using var stream = new MemoryStream();
        await JsonSerializer.SerializeAsync(stream, shipments, options);
        stream.Position = 0;
        var back = await JsonSerializer.DeserializeAsync<List<Shipment>>(stream, options);
        var kinds = string.Join(",", back!.Select(s => s.GetType().Name));

        var tree = JsonSerializer.SerializeToNode(Stock().Take(5).Select(s => new { s.Sku, s.Quantity, Bin = s.Location.ToString() }))!.AsArray();
        foreach (var n in tree) n!["Quantity"] = n["Quantity"]!.GetValue<int>() * 10;
        tree.Add(new JsonObject { ["Sku"] = "extra", ["Quantity"] = 1 });
        var total = tree.Sum(n => n!["Quantity"]!.GetValue<int>());

        var element = JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["a"] = 1, ["b"] = new[] { "x", "y" }, ["c"] = null });
        var walked = new List<string>();
        foreach (var p in element.EnumerateObject()) walked.Add($"{p.Name}:{p.Value.ValueKind}");
        var reader = new Utf8JsonReader("[1,2,{\"k\":[true,false,null]}]"u8);
        var tokens = 0;
        while (reader.Read()) tokens++;
        return $"{stream.Length}:{kinds}:{total}:{string.Join(",", walked)}:{tokens}";
    }

    // LINQ: SelectMany, GroupJoin, Aggregate, MinBy/MaxBy, Index, TakeWhile/SkipWhile, PLINQ with an ordered result
    public static string Queries()
    {
        var stock = Stock();
        var aisles = "ABCDEFG".Select((c, i) => (Aisle: c, Zone: i < 3 ? "north" : "south")).ToList();
        var perZone = aisles.GroupJoin(stock, a => a.Aisle, s => s.Location.Aisle, (a, items) => (a.Zone, Qty: items.Sum(i => i.Quantity)))
            .GroupBy(x => x.Zone).Select(g => $"{g.Key}={g.Sum(x => x.Qty)}");
        var colors = stock.SelectMany(s => s.Attributes, (s, kv) => (s.Sku, kv.Key, kv.Value)).Where(t => t.Key == "color")
            .GroupBy(t => t.Value).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Select(t => t.Sku).Distinct().Count()}");
        var longest = stock.Aggregate("", (acc, s) => s.Sku.Length > acc.Length ? s.Sku : acc);
        var (min, max) = (stock.MinBy(s => s.Quantity)!.Sku, stock.MaxBy(s => (s.Quantity, s.Sku))!.Sku);
        var prefix = stock.OrderBy(s => s.Quantity).TakeWhile(s => s.Quantity < 5).Count();
        var indexed = stock.Index().Where(p => p.Index % 20 == 0).Select(p => p.Item.Sku);
        var parallel = stock.AsParallel().AsOrdered().Where(s => s.Quantity % 2 == 0).Select(s => s.Quantity * s.Location.Shelf).Take(10).ToList();
        var seq = Enumerable.Repeat(3, 4).Concat(Enumerable.Range(10, 3)).Prepend(0).Append(99).Reverse().SequenceEqual([99, 12, 11, 10, 3, 3, 3, 3, 0]);
        var dict = stock.DistinctBy(s => s.Sku).ToDictionary(s => s.Sku, s => s.Quantity).Count;
        var sorted = stock.ToList();
        sorted.Sort(StockItem.CompareByQuantity);
        return $"{string.Join(",", perZone)}|{string.Join(",", colors)}|{longest}|{min}/{max}|{prefix}|{string.Join(",", indexed)}|{string.Join(",", parallel)}|{seq}|{dict}|{sorted[^1].Quantity}";
    }

    // Regex: MatchEvaluator, EnumerateMatches over spans, IgnoreCase|Compiled, lookarounds, backreferences, Regex.Escape
    public static string Parsing()
    {
        var manifest = "Order #A-1001 shipped 3x widget(s) to NYC; ORDER #b-2002 held 12x gadget(s); order #C-3003 shipped 1x gizmo(s) to SFO";
        var order = new Regex(@"order\s+#(?<id>[a-z]-\d+)\s+(?<state>shipped|held)\s+(?<n>\d+)x\s+(?<what>\w+)", RegexOptions.IgnoreCase | RegexOptions.Compiled);
        var states = order.Matches(manifest).Select(m => $"{m.Groups["id"].Value.ToUpperInvariant()}:{m.Groups["state"].Value}:{int.Parse(m.Groups["n"].Value) * 2}");
        var masked = Regex.Replace(manifest, @"\b[A-Z]{3}\b(?=;|$)", m => new string('*', m.Length));
        var counted = 0;
        foreach (var m in Regex.EnumerateMatches(manifest.AsSpan(), @"\d+(?=x)")) counted += m.Length;
        var doubled = Regex.Matches("hello bookkeeper committee", @"(\w)\1").Count;
        var escaped = Regex.Escape("a.b*c(d)");
        var camel = Regex.Replace("ParseHTTPResponseCode", "(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_").ToLowerInvariant();
        var dates = new Regex(@"(?<y>\d{4})-(?<m>\d\d)-(?<d>\d\d)").Replace("from 2024-01-31 to 2024-02-29", "${d}.${m}.${y}");
        return $"{string.Join(",", states)}|{masked[^10..]}|{counted}|{doubled}|{escaped}|{camel}|{dates}";
    }

    // Globalization: several cultures, TextInfo, sort keys, IdnMapping, calendar-specific formatting, parse with styles
    public static string Cultures()
    {
        var names = new[] { "fr-FR", "en-GB", "ar-SA", "zh-CN", "hi-IN", "pt-BR" };
        var parts = new List<string>();
        foreach (var name in names)
        {
            CultureInfo c;
            try { c = new CultureInfo(name); }
            catch (CultureNotFoundException) { parts.Add($"{name}:none"); continue; }
            parts.Add($"{name}:{(-9876.5m).ToString("C", c)}:{new DateTime(2024, 5, 6).ToString("g", c)}:{c.TextInfo.ToTitleCase("the old man")}");
        }
        var ci = CultureInfo.InvariantCulture.CompareInfo;
        var prefix = ci.IsPrefix("Straße", "STR", CompareOptions.IgnoreCase);
        var keys = new[] { "cote", "côte", "coté", "côté" }.OrderBy(s => s, StringComparer.InvariantCulture).ToArray();
        var parsed = double.TryParse("(1,234.50)", NumberStyles.Currency | NumberStyles.AllowParentheses, CultureInfo.InvariantCulture, out var v);
        var idn = new IdnMapping().GetAscii("bücher.example");
        var current = CultureInfo.CurrentCulture.Name.Length;
        var upper = "ﬁne ǆ".ToUpperInvariant();
        return $"{string.Join(" | ", parts)}|{prefix}|{string.Join(",", keys)}|{parsed}{v}|{idn}|{current}|{upper}";
    }

    // XML: XmlDocument DOM, XPath (XPathNavigator and SelectNodes), attributes, XmlNamespaceManager, serialization to string
    public static string XmlDom()
    {
        var doc = new XmlDocument();
        doc.LoadXml("""
            <inv:warehouse xmlns:inv="urn:inv" site="north">
              <inv:item sku="W001" qty="4"><inv:tag>red</inv:tag></inv:item>
              <inv:item sku="W002" qty="0"><inv:tag>blue</inv:tag><inv:tag>big</inv:tag></inv:item>
              <inv:item sku="W003" qty="9"/>
            </inv:warehouse>
            """);
        var ns = new XmlNamespaceManager(doc.NameTable);
        ns.AddNamespace("i", "urn:inv");
        var empty = doc.SelectNodes("//i:item[@qty='0']/@sku", ns)!.Cast<XmlNode>().Select(n => n.Value);
        var added = doc.CreateElement("inv", "item", "urn:inv");
        added.SetAttribute("sku", "W004");
        added.SetAttribute("qty", "2");
        doc.DocumentElement!.AppendChild(added);
        var nav = doc.CreateNavigator()!;
        var sum = (double)nav.Evaluate("sum(//i:item/@qty)", ns);
        var tags = nav.Select("//i:tag", ns).Count;
        var sb = new StringBuilder();
        using (var w = XmlWriter.Create(sb, new XmlWriterSettings { Indent = false, Encoding = Encoding.UTF8 })) doc.Save(w);
        return $"{string.Join(",", empty)}:{sum}:{tags}:{sb.Length}:{doc.DocumentElement.GetAttribute("site")}";
    }

    // Compression: ZLibStream, zip of a temp directory with ZipFile, entry enumeration, GZip through files
    public static async ValueTask<string> ArchivesAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), $"dci-train-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "src", "sub"));
        try
        {
            for (int i = 0; i < 5; i++)
                await File.WriteAllTextAsync(Path.Combine(root, "src", i % 2 == 0 ? "sub" : "", $"f{i}.log"), string.Concat(Enumerable.Repeat($"entry {i};", 100)));
            var zipPath = Path.Combine(root, "bundle.zip");
            ZipFile.CreateFromDirectory(Path.Combine(root, "src"), zipPath, CompressionLevel.Optimal, includeBaseDirectory: false);
            using var zip = ZipFile.OpenRead(zipPath);
            var names = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).Order(StringComparer.Ordinal);
            var extracted = Path.Combine(root, "out");
            ZipFile.ExtractToDirectory(zipPath, extracted);

            var gzPath = Path.Combine(root, "data.gz");
            await using (var f = File.Create(gzPath))
            await using (var gz = new GZipStream(f, CompressionLevel.Fastest))
                await gz.WriteAsync(Encoding.UTF8.GetBytes(new string('z', 10_000)));
            await using var rf = File.OpenRead(gzPath);
            await using var ungz = new GZipStream(rf, CompressionMode.Decompress);
            var ms = new MemoryStream();
            await ungz.CopyToAsync(ms);

            var zl = new MemoryStream();
            using (var z = new ZLibStream(zl, CompressionLevel.Optimal, leaveOpen: true)) z.Write(ms.ToArray());
            var ok = BrotliEncoder.TryCompress(ms.ToArray(), new byte[20_000], out var brLen);
            return $"{string.Join(",", names)}:{Directory.GetFiles(extracted, "*.log", SearchOption.AllDirectories).Length}:{ms.Length}:{zl.Length < 1000}:{ok && brLen < 1000}";
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // Crypto: RSA encrypt/sign, HMAC-SHA512, SHA-384/SHA-1/MD5, IncrementalHash, AES-ECB/CFB, random fill, fixed-time compare
    public static string Security()
    {
        var payload = Encoding.UTF8.GetBytes(string.Join(",", Stock().Select(s => s.Sku)));
        using var rsa = RSA.Create(1024) /* key generation is slow; 1024 bits keeps the step short */;
        var encrypted = rsa.Encrypt("secret"u8, RSAEncryptionPadding.OaepSHA256);
        var decrypted = Encoding.UTF8.GetString(rsa.Decrypt(encrypted, RSAEncryptionPadding.OaepSHA256));
        var signature = rsa.SignData(payload, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        var verified = rsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        var pem = rsa.ExportSubjectPublicKeyInfoPem().Split('\n')[0];

        using var hmac = new HMACSHA512(Encoding.ASCII.GetBytes("k"));
        var mac = Convert.ToBase64String(hmac.ComputeHash(payload))[..12];
        using var inc = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
        foreach (var chunk in payload.Chunk(64)) inc.AppendData(chunk);
        var sha384 = Convert.ToHexString(inc.GetHashAndReset())[..12];
        var sha1 = Convert.ToHexString(SHA1.HashData(payload))[..8];
        var md5 = Convert.ToHexString(MD5.HashData(payload))[..8];

        using var aes = Aes.Create();
        aes.KeySize = 128;
        aes.Key = Enumerable.Range(0, 16).Select(i => (byte)(i * 11)).ToArray();
        var ecb = aes.EncryptEcb(payload, PaddingMode.PKCS7);
        var cfb = aes.EncryptCfb(payload, new byte[16], PaddingMode.None, feedbackSizeInBits: 8);
        var roundTrip = aes.DecryptCfb(cfb, new byte[16], PaddingMode.None, 8).AsSpan().SequenceEqual(payload);
        Span<byte> noise = stackalloc byte[16];
        RandomNumberGenerator.Fill(noise);
        var same = CryptographicOperations.FixedTimeEquals(ecb.AsSpan(0, 16), aes.EncryptEcb(payload, PaddingMode.PKCS7).AsSpan(0, 16));
        var token = RandomNumberGenerator.GetHexString(8).Length + RandomNumberGenerator.GetInt32(1, 2);
        return $"{decrypted}:{verified}:{pem}:{mac}:{sha384}:{sha1}:{md5}:{Convert.ToHexString(ecb)[..8]}:{roundTrip}:{same}:{token}";
    }

    // Files: RandomAccess with SafeFileHandle, memory-mapped file, FileStream seek/positional, DirectoryInfo enumeration, attributes
    public static async ValueTask<string> StorageAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dci-train-{Guid.NewGuid():N}.dat");
        try
        {
            using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
            {
                var block = Enumerable.Range(0, 1024).Select(i => (byte)(i % 251)).ToArray();
                for (int i = 0; i < 8; i++) await RandomAccess.WriteAsync(handle, block, i * 1024L);
                var back = new byte[16];
                await RandomAccess.ReadAsync(handle, back, 3 * 1024 + 250);
                if (back[1] != 0) throw new InvalidOperationException("unexpected data");
            }
            long mapped;
            using (var mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read))
            using (var view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read))
                mapped = view.ReadByte(5000) + view.ReadInt32(100);
            await using (var fs = new FileStream(path, FileMode.Append)) await fs.WriteAsync(new byte[] { 1, 2, 3 });
            var info = new FileInfo(path);
            var dir = info.Directory!;
            var found = dir.EnumerateFiles(Path.GetFileName(path)).Count();
            var attrs = File.GetAttributes(path).HasFlag(FileAttributes.Directory);
            var full = Path.GetFullPath(Path.Combine("a", "..", "b", ".", "c.txt"), "/base");
            return $"{info.Length}:{mapped}:{found}:{attrs}:{full}:{Path.GetFileNameWithoutExtension("x/y.tar.gz")}:{Path.IsPathRooted("/tmp")}";
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Concurrency: unbounded channel with several readers, PeriodicTimer, Task.WhenAny with timeout, Parallel.Invoke,
    // BlockingCollection, Lazy<T>, async-local flow, Barrier-free fan-out
    public static async ValueTask<string> ConcurrencyAsync()
    {
        var channel = Channel.CreateUnbounded<(int Id, string Sku)>();
        var results = new ConcurrentDictionary<int, int>();
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            await foreach (var (id, sku) in channel.Reader.ReadAllAsync()) results[id] = sku.Length + r * 0;
        })).ToArray();
        foreach (var (s, i) in Stock().Select((s, i) => (s, i))) channel.Writer.TryWrite((i, s.Sku));
        channel.Writer.Complete();
        await Task.WhenAll(readers);

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(2));
        var ticks = 0;
        while (ticks < 3 && await timer.WaitForNextTickAsync()) ticks++;

        var slow = Task.Delay(TimeSpan.FromSeconds(30));
        var fast = Task.FromResult(42);
        var winner = await Task.WhenAny(slow, fast) == fast;

        int a = 0, b = 0, c = 0;
        Parallel.Invoke(() => a = Fib(20), () => b = Fib(18), () => c = Fib(15));
        using var queue = new BlockingCollection<int>(boundedCapacity: 4);
        var consumer = Task.Run(() => queue.GetConsumingEnumerable().Sum());
        for (int i = 0; i < 20; i++) queue.Add(i);
        queue.CompleteAdding();
        var lazy = new Lazy<string>(() => "built", LazyThreadSafetyMode.ExecutionAndPublication);
        var flow = new AsyncLocal<string> { Value = "outer" };
        var seen = await Task.Run(async () => { await Task.Yield(); return flow.Value; });
        var timeout = false;
        try { await Task.Delay(Timeout.Infinite).WaitAsync(TimeSpan.FromMilliseconds(5)); } catch (TimeoutException) { timeout = true; }
        return $"{results.Count}:{results.Values.Sum()}:{ticks}:{winner}:{a + b + c}:{await consumer}:{lazy.Value}:{seen}:{timeout}";

        static int Fib(int n) => n < 2 ? n : Fib(n - 1) + Fib(n - 2);
    }

    // Collections: SortedList/SortedSet, immutable builders, ObservableCollection events, Stack/Queue, ConcurrentStack,
    // CollectionsMarshal.AsSpan, ArraySegment, List binary search, Dictionary with a custom comparer
    public static string Structures()
    {
        var stock = Stock();
        var bySku = new SortedList<string, int>(StringComparer.Ordinal);
        foreach (var s in stock) bySku[s.Sku] = bySku.GetValueOrDefault(s.Sku) + s.Quantity;
        var shelves = new SortedSet<int>(stock.Select(s => s.Location.Shelf));
        var view = shelves.GetViewBetween(2, 5).Count;
        var builder = ImmutableSortedDictionary.CreateBuilder<string, int>();
        foreach (var kv in bySku.Take(5)) builder.Add(kv.Key, kv.Value);
        var imm = builder.ToImmutable().SetItem("zzz", 1);
        var hs = ImmutableHashSet.Create("a", "b").Union(["b", "c"]).Count;
        var stackImm = ImmutableStack.Create(1, 2, 3).Pop().Peek();
        var events = 0;
        var observable = new ObservableCollection<string>();
        observable.CollectionChanged += (_, _) => events++;
        observable.Add("x");
        observable.Add("y");
        observable.Move(0, 1);
        observable.RemoveAt(0);
        var cs = new ConcurrentStack<int>();
        cs.PushRange([1, 2, 3, 4]);
        cs.TryPopRange(new int[2]);
        var list = stock.Select(s => s.Quantity).ToList();
        var span = CollectionsMarshal.AsSpan(list);
        span.Sort();
        var segment = new ArraySegment<int>(list.ToArray(), 10, 5);
        var ci = new Dictionary<Bin, string>(EqualityComparer<Bin>.Create((x, y) => x.Aisle == y.Aisle, b => b.Aisle));
        foreach (var s in stock) ci.TryAdd(s.Location, s.Sku);
        return $"{bySku.Count}:{bySku.Keys[0]}:{view}:{string.Join(",", imm.Keys)}:{hs}:{stackImm}:{events}:{cs.Count}:{span[^1]}:{segment.Sum()}:{ci.Count}";
    }

    // Formatting and spans: CompositeFormat, TryFormat into spans, Utf8Formatter/Utf8Parser, interpolated StringBuilder,
    // string.Join/Concat/Split options, MemoryExtensions helpers
    public static string Formatting()
    {
        var format = CompositeFormat.Parse("{0,-8}|{1,6:N1}|{2:yyyy-MM-dd}");
        var rows = Stock().Take(4).Select(s => string.Format(CultureInfo.InvariantCulture, format, s.Sku, s.Quantity * 1.5, new DateTime(2024, 1, 1).AddDays(s.Quantity)));
        Span<char> buffer = stackalloc char[64];
        var ok = 12345.678.TryFormat(buffer, out var written, "E3", CultureInfo.InvariantCulture);
        var formatted = buffer[..written].ToString();
        Span<byte> utf8 = stackalloc byte[32];
        Utf8Formatter.TryFormat(987654321L, utf8, out var n);
        Utf8Parser.TryParse(utf8[..n], out long parsedBack, out _);
        var sb = new StringBuilder();
        foreach (var s in Stock().Take(3)) sb.Append($"[{s.Sku}:{s.Quantity:D3}:{s.Location}]");
        var split = "  a , b,,c ;d ".Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        ReadOnlySpan<char> text = "key1=value1;key2=value2;key3=value3";
        var pairs = 0;
        foreach (var part in text.Split(';'))
        {
            var kv = text[part];
            if (kv.IndexOf('=') > 0 && kv.StartsWith("key")) pairs++;
        }
        var common = "interstellar".AsSpan().CommonPrefixLength("internet");
        var count = "banana".AsSpan().Count('a');
        var padded = string.Concat("x".PadRight(3, '.'), 42.ToString("X8"), (-5).ToString("+0;-0"), 0.125.ToString("P0"), 1234.5f.ToString("R"));
        var interned = string.IsInterned("Hello") is not null;
        return $"{string.Join("/", rows)}:{ok}{formatted}:{parsedBack}:{sb}:{string.Join("|", split)}:{pairs}:{common}:{count}:{padded}:{interned}";
    }

    // Calendars and time: Hebrew/Japanese/Gregorian calendars, system time zones, DST transitions, Stopwatch, TimeSpan parse
    public static string Calendar()
    {
        var d = new DateTime(2024, 10, 3, 0, 0, 0, DateTimeKind.Utc);
        var hebrew = new HebrewCalendar();
        var heb = $"{hebrew.GetYear(d)}-{hebrew.GetMonth(d)}-{hebrew.GetDayOfMonth(d)}";
        var greg = new GregorianCalendar();
        var week = greg.GetWeekOfYear(d, CalendarWeekRule.FirstFourDayWeek, DayOfWeek.Monday);
        int japanese;
        try { japanese = new JapaneseCalendar().GetEra(d); }
        catch (TypeInitializationException) { japanese = -1; } // its era data needs ICU (ja-JP); not in invariant mode
        string zones;
        try
        {
            var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
            var rules = paris.GetAdjustmentRules().Length > 0;
            var spring = new DateTime(2024, 3, 31, 2, 30, 0);
            var tokyo = TimeZoneInfo.ConvertTimeBySystemTimeZoneId(d, "Asia/Tokyo");
            zones = $"{tokyo:HH}:{rules}:{paris.IsInvalidTime(spring)}:{paris.GetUtcOffset(d)}";
        }
        catch (TimeZoneNotFoundException)
        {
            zones = "no-tzdata";
        }
        var ts = TimeSpan.Parse("1.02:03:04.5", CultureInfo.InvariantCulture);
        var sw = Stopwatch.StartNew();
        var elapsedOk = sw.Elapsed >= TimeSpan.Zero;
        var local = TimeZoneInfo.Local.Id.Length > 0;
        var dto = DateTimeOffset.TryParse("Thu, 03 Oct 2024 10:00:00 GMT", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var http);
        return $"{heb}:{week}:{japanese}:{zones}:{ts.TotalSeconds}:{elapsedOk}:{local}:{dto}{http:R}:{DateTime.IsLeapYear(2100)}";
    }

    // Reflection and component model: TypeDescriptor/TypeConverters, generic type definitions, delegates, Assembly scanning,
    // obsolete/description attributes, dynamic invoke, default values, nullability info
    public static string Metadata()
    {
        var props = TypeDescriptor.GetProperties(typeof(StockItem)).Cast<PropertyDescriptor>()
            .Select(p => $"{p.Name}:{p.DisplayName}:{p.Description.Length}").Order(StringComparer.Ordinal);
        var converter = TypeDescriptor.GetConverter(typeof(DateTime)).ConvertFromInvariantString("2024-02-03");
        var guid = TypeDescriptor.GetConverter(typeof(Guid)).ConvertFrom("00000000-0000-0000-0000-000000000001");
        var types = typeof(Warehouse).Assembly.GetTypes().Where(t => t.IsClass && !t.IsNested && t.Namespace is null).Select(t => t.Name).Order(StringComparer.Ordinal);
        var obsolete = typeof(StockItem).GetProperties().Count(p => p.IsDefined(typeof(ObsoleteAttribute)));
        var method = typeof(StockItem).GetMethod(nameof(StockItem.CompareByQuantity))!;
        var comparison = method.CreateDelegate<Comparison<StockItem>>();
        var cmp = comparison(new StockItem { Quantity = 1 }, new StockItem { Quantity = 2 });
        var open = typeof(KeyValuePair<,>).GetGenericArguments().Length;
        var closed = typeof(List<>).MakeGenericType(typeof(Bin));
        var inst = (System.Collections.IList)Activator.CreateInstance(closed)!;
        inst.Add(new Bin('Z', 1, 1));
        var nullability = new NullabilityInfoContext().Create(typeof(Parcel).GetProperty(nameof(Parcel.Carrier))!).ReadState;
        var func = (Func<int, int, int>)Delegate.CreateDelegate(typeof(Func<int, int, int>), typeof(Math).GetMethod(nameof(Math.Max), [typeof(int), typeof(int)])!);
        var dyn = func.DynamicInvoke(3, 9);
        var record = typeof(Bin).GetMethod("<Clone>$") is null && typeof(Bin).IsValueType;
        return $"{string.Join(",", props)}|{converter}|{guid}|{string.Join(",", types)}|{obsolete}|{cmp}|{open}|{inst[0]}|{nullability}|{dyn}|{record}";
    }

    // Numerics: Vector256/Vector<T> reductions, Quaternion/Matrix3x2, BigInteger parsing and formatting, UInt128, generic math
    public static string MathWork()
    {
        var data = Enumerable.Range(1, 4096).Select(i => (double)(i % 100) / 7).ToArray();
        double simd = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<double>.Zero;
            for (; i <= data.Length - 4; i += 4) acc += Vector256.Create(data.AsSpan(i, 4));
            simd = Vector256.Sum(acc);
        }
        for (; i < data.Length; i++) simd += data[i];
        var dot = Vector.Dot(new Vector<int>(1), new Vector<int>(2)) / Vector<int>.Count;
        var q = Quaternion.CreateFromYawPitchRoll(0.1f, 0.2f, 0.3f);
        var rotated = Vector2.Transform(new Vector2(1, 0), Matrix3x2.CreateRotation(MathF.PI));
        var big = BigInteger.Parse("123456789012345678901234567890") * BigInteger.Parse("-987654321");
        var hex = big.ToString("X").Length;
        var u128 = UInt128.MaxValue / 3;
        static T Clamp<T>(T v, T lo, T hi) where T : INumber<T> => T.Clamp(v, lo, hi);
        var stats = (Min: data.Min(), Avg: data.Average(), Std: Math.Sqrt(data.Select(x => Math.Pow(x - data.Average(), 2)).Average()));
        var rounding = new[] { Math.Round(2.5), Math.Round(-2.5, MidpointRounding.AwayFromZero), Math.Floor(-0.5), Math.Ceiling(0.1), Math.Truncate(-3.7) };
        var fused = Math.FusedMultiplyAdd(1.5, 2, 0.25) + double.CopySign(1, -0.0) + Math.ScaleB(1, 10) + double.Hypot(3, 4);
        return $"{simd:F3}:{dot}:{q.W:F4}:{rotated.X:F1}:{big}:{hex}:{u128}:{Clamp(15, 0, 10)}:{Clamp(-0.5, 0, 1)}:{stats.Min}:{stats.Avg:F4}:{stats.Std:F4}:{string.Join(",", rounding)}:{fused}";
    }

    // Web-style text: HttpUtility query parsing/encoding, Uri composition, UTF-8 validation and transcoding, Base64 in spans,
    // HashCode, seeded Random for sampling
    public static string WebText()
    {
        var query = HttpUtility.ParseQueryString("sku=W001&qty=5&note=caf%C3%A9+au+lait&tag=a&tag=b");
        var rebuilt = HttpUtility.UrlEncode($"{query["note"]}&{query.GetValues("tag")!.Length}");
        var html = HttpUtility.HtmlDecode("&lt;b&gt;5 &amp; 6&lt;/b&gt; &eacute;");
        var js = HttpUtility.JavaScriptStringEncode("line\n\"quoted\"");
        var baseUri = new Uri("http://inventory.local/api/v2/");
        var items = new Uri(baseUri, "items/42?expand=true");
        var segs = items.Segments.Length + (items.IsDefaultPort ? 1 : 0) + (Uri.IsWellFormedUriString("not a uri", UriKind.Absolute) ? 10 : 0);
        var bytes = Encoding.UTF8.GetBytes("Größe ✓");
        var valid = System.Text.Unicode.Utf8.IsValid(bytes) && !System.Text.Unicode.Utf8.IsValid([0xC3, 0x28]);
        var utf16 = new char[32];
        System.Text.Unicode.Utf8.ToUtf16(bytes, utf16, out _, out var chars);
        Span<byte> b64 = stackalloc byte[64];
        Base64.EncodeToUtf8(bytes, b64, out _, out var b64Len);
        var b64Text = Encoding.ASCII.GetString(b64[..b64Len]);
        var hash = new HashCode();
        foreach (var s in "deterministic within a process only".Split(' ')) hash.Add(s.Length);
        var sample = new Random(7).GetItems(Stock().Select(s => s.Sku).ToArray(), 3);
        var mixed = Random.Shared.Next(10) < 10;
        return $"{query["sku"]}:{rebuilt}:{html}:{js}:{items.AbsoluteUri}:{segs}:{valid}:{new string(utf16, 0, chars)}:{b64Text}:{hash.ToHashCode() == hash.ToHashCode()}:{string.Join(",", sample)}:{mixed}";
    }
}
