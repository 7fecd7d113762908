// Training web program (for recording profiles only; never judged): a "library" service with different code from
// samples/service but the same kinds of framework paths — WebApplication.CreateBuilder, options/monitor, keyed and scoped DI,
// IMiddleware and inline middleware, response compression, CORS, rate limiting, output caching, memory cache, a hosted
// BackgroundService, route constraints/catch-all/[AsParameters]/headers, polymorphic JSON, IValidatableObject, an
// IExceptionHandler, health checks with a JSON writer, streaming (IAsyncEnumerable, CSV) and a named IHttpClientFactory client.
// GET / drives a workload against the service itself (loopback); GET /jit answers jit-methods / first-request-ms.
// `--exit-after-warmup [--repeat N]` runs that workload N times right after start-up, prints the counts and exits
// (binds http://127.0.0.1:0 unless URLs/ports are configured) — handy for recording a profile without an external driver.
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

var exitAfterWarmup = args.Contains("--exit-after-warmup");
var repeatAt = Array.IndexOf(args, "--repeat");
var repeat = repeatAt >= 0 && repeatAt + 1 < args.Length ? Math.Max(1, int.Parse(args[repeatAt + 1], CultureInfo.InvariantCulture)) : 1;
var hostArgs = args.Where((a, i) => a != "--exit-after-warmup" && a != "--repeat" && (i == 0 || args[i - 1] != "--repeat")).ToArray();

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = hostArgs, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables(prefix: "LIBRARY_");
if (exitAfterWarmup && string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
    builder.WebHost.UseUrls("http://127.0.0.1:0");

builder.Services.Configure<LibraryOptions>(builder.Configuration.GetSection("Library"));
builder.Services.PostConfigure<LibraryOptions>(o => o.Name = o.Name.Trim().ToLowerInvariant());
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowReadingFromString;
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
});

builder.Services.AddKeyedSingleton<IClock, UtcClock>("utc");
builder.Services.AddKeyedSingleton<IClock>("fixed", new FixedClock(new DateTimeOffset(2024, 6, 1, 9, 0, 0, TimeSpan.Zero)));
builder.Services.AddSingleton<BookRepository>();
builder.Services.AddSingleton<LoanLedger>();
builder.Services.AddScoped<LoanDesk>();
builder.Services.AddScoped<TenantAccessor>();
builder.Services.AddTransient<ApiKeyMiddleware>();
builder.Services.AddSingleton<Probe>();
builder.Services.AddTransient<Workload>();
builder.Services.AddMemoryCache(o => o.SizeLimit = 1024);
builder.Services.AddOutputCache(o => o.AddPolicy("short", p => p.Expire(TimeSpan.FromSeconds(5)).SetVaryByHeader("X-Tenant")));
builder.Services.AddResponseCompression(o =>
{
    o.EnableForHttps = true;
    o.MimeTypes = ResponseCompressionDefaults.MimeTypes.Append("text/csv");
    o.Providers.Add<BrotliCompressionProvider>();
    o.Providers.Add<GzipCompressionProvider>();
});
builder.Services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
builder.Services.AddCors(o => o.AddPolicy("browsers", p => p.WithOrigins("http://localhost:3000").AllowAnyHeader().WithMethods("GET", "POST")));
builder.Services.AddRateLimiter(o =>
{
    o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
    o.AddFixedWindowLimiter("api", w => { w.PermitLimit = 10_000; w.Window = TimeSpan.FromSeconds(1); w.QueueLimit = 0; });
    o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(ctx =>
        RateLimitPartition.GetTokenBucketLimiter(ctx.Connection.RemoteIpAddress?.ToString() ?? "none", _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 5_000, TokensPerPeriod = 5_000, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0,
        }));
});
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<LibraryExceptionHandler>();
builder.Services.AddHostedService<ReminderService>();
builder.Services.AddHealthChecks()
    .AddCheck("self", () => HealthCheckResult.Healthy("up"), tags: ["live"])
    .AddCheck<RepositoryHealthCheck>("books", tags: ["ready"]);
builder.Services.AddHttpClient("loopback", c =>
    {
        c.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        c.DefaultRequestVersion = HttpVersion.Version11;
        c.Timeout = TimeSpan.FromSeconds(30);
    })
    .AddHttpMessageHandler(() => new RetryHandler(attempts: 2))
    .ConfigurePrimaryHttpMessageHandler(() => new HttpClientHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.All });

var app = builder.Build();

app.UseExceptionHandler();
app.UseResponseCompression();
app.Use(async (ctx, next) =>
{
    var sw = ValueStopwatch.Start();
    ctx.Response.OnStarting(state =>
    {
        var (c, s) = ((HttpContext, ValueStopwatch))state;
        c.Response.Headers.Append("X-Elapsed-Us", ((long)(s.Elapsed.TotalMicroseconds)).ToString(CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }, (ctx, sw));
    await next(ctx);
});
app.UseMiddleware<ApiKeyMiddleware>();
app.UseCors();
app.UseRateLimiter();
app.UseOutputCache();

app.MapGet("/", async (Workload workload, Probe probe, CancellationToken ct) =>
{
    var summary = await workload.RunAsync(ct);
    probe.Mark();
    return Results.Text($"Hello from {RuntimeInformation.FrameworkDescription} (ASP.NET Core, training): {summary}\n", "text/plain", Encoding.UTF8);
});
app.MapGet("/jit", (Probe probe) =>
{
    probe.Mark();
    return $"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}\nfirst-request-ms: {probe.FirstMs:F1}\n";
});
app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = HealthJson.WriteAsync });

var v1 = app.MapGroup("/v1").RequireRateLimiting("api").WithMetadata(new ApiKeyRequiredAttribute());
var books = v1.MapGroup("/books");
books.MapGet("/", ([AsParameters] BookQuery q, BookRepository repo) => repo.Query(q));
books.MapGet("/{isbn:regex(^\\d{{13}}$)}", (string isbn, BookRepository repo, IMemoryCache cache) =>
    cache.GetOrCreate($"book:{isbn}", e => { e.Size = 1; e.SlidingExpiration = TimeSpan.FromMinutes(1); return repo.Find(isbn); }) is { } b
        ? Results.Json(b) : Results.Problem(statusCode: 404, title: $"no book {isbn}"));
books.MapPost("/", (Book book, BookRepository repo) =>
{
    var errors = new List<ValidationResult>();
    if (!Validator.TryValidateObject(book, new ValidationContext(book), errors, true))
        return Results.ValidationProblem(errors.GroupBy(e => e.MemberNames.FirstOrDefault() ?? "").ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage!).ToArray()));
    return repo.TryAdd(book) ? Results.Created($"/v1/books/{book.Isbn}", book) : Results.Conflict(new { book.Isbn, reason = "exists" });
});
books.MapPut("/{isbn}/copies/{count:int:range(0,1000)}", (string isbn, int count, BookRepository repo) =>
    repo.SetCopies(isbn, count) ? Results.NoContent() : Results.NotFound());
books.MapPatch("/{isbn}", async (string isbn, HttpRequest request, BookRepository repo) =>
{
    var patch = await JsonNode.ParseAsync(request.Body) as JsonObject;
    if (patch is null) return Results.BadRequest();
    return repo.Patch(isbn, patch) is { } updated ? Results.Ok(updated) : Results.NotFound();
});
books.MapDelete("/{isbn}", (string isbn, BookRepository repo) => repo.Remove(isbn) ? Results.NoContent() : Results.NotFound());
books.MapGet("/export.csv", (BookRepository repo) => Results.Stream(async s =>
{
    await using var w = new StreamWriter(s, new UTF8Encoding(false));
    await w.WriteLineAsync("isbn,title,year,copies");
    foreach (var b in repo.Query(new BookQuery()).Items) await w.WriteLineAsync($"{b.Isbn},\"{b.Title.Replace("\"", "\"\"")}\",{b.Year},{b.Copies}");
}, "text/csv"));

var loans = v1.MapGroup("/loans");
loans.MapPost("/", (LoanEvent evt, LoanDesk desk) => desk.Handle(evt));
loans.MapGet("/stream", (LoanLedger ledger, CancellationToken ct) => ledger.StreamAsync(ct));
loans.MapGet("/member/{member:guid}", (Guid member, LoanLedger ledger, [FromHeader(Name = "X-Tenant")] string? tenant) =>
    Results.Ok(new { member, tenant = tenant ?? "default", loans = ledger.For(member) }));
v1.MapGet("/search/{**path}", (string path, [FromQuery(Name = "q")] string? term) =>
    Results.Ok(new { segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries), term }));
v1.MapGet("/stats", (BookRepository repo, [FromKeyedServices("fixed")] IClock clock) => Results.Ok(repo.Stats(clock.Now))).CacheOutput("short");
v1.MapPost("/echo", async (HttpRequest request) =>
{
    using var reader = new StreamReader(request.Body, Encoding.UTF8);
    var text = await reader.ReadToEndAsync();
    return Results.Text(new string(text.Reverse().ToArray()));
}).RequireCors("browsers");
v1.MapGet("/boom", IResult () => throw new InvalidOperationException("deliberate failure"));

if (exitAfterWarmup)
{
    app.Lifetime.ApplicationStarted.Register(() => _ = Task.Run(async () =>
    {
        try
        {
            var workload = app.Services.GetRequiredService<Workload>();
            var summary = "";
            for (int i = 0; i < repeat; i++) summary = await workload.RunAsync(CancellationToken.None);
            Console.WriteLine($"work: {summary} x{repeat}");
            Console.WriteLine($"startup-ms: {Startup.ElapsedMs():F1}");
            Console.WriteLine($"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"warm-up failed: {e}");
            Environment.ExitCode = 1;
        }
        finally
        {
            app.Lifetime.StopApplication();
        }
    }));
}

app.Run();

// -- options and small services ---------------------------------------------------------------------------------------

public sealed class LibraryOptions
{
    public string Name { get; set; } = "library";
    public int LoanDays { get; set; } = 14;
    public int MaxLoansPerMember { get; set; } = 3;
    public int ReminderSeconds { get; set; } = 60;
    public string ApiKey { get; set; } = "";
}

public interface IClock { DateTimeOffset Now { get; } }
public sealed class UtcClock : IClock { public DateTimeOffset Now => DateTimeOffset.UtcNow; }
public sealed class FixedClock(DateTimeOffset at) : IClock { public DateTimeOffset Now => at; }

public sealed class Probe
{
    private long _firstTicks = -1;
    public double? FirstMs => Volatile.Read(ref _firstTicks) is var t and >= 0 ? t / 1000.0 : null;
    public void Mark() => Interlocked.CompareExchange(ref _firstTicks, (long)(Startup.ElapsedMs() * 1000), -1);
}

public readonly struct ValueStopwatch
{
    private readonly long _start;
    private ValueStopwatch(long start) => _start = start;
    public static ValueStopwatch Start() => new(Stopwatch.GetTimestamp());
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);
}

public sealed class TenantAccessor { public string Tenant { get; set; } = "default"; }

[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class ApiKeyRequiredAttribute : Attribute;

// -- domain -------------------------------------------------------------------------------------------------------

public enum Genre { Fiction, Science, History, Children }

public sealed record Book(
    [property: Required, RegularExpression(@"^\d{13}$")] string Isbn,
    [property: Required, MaxLength(200)] string Title,
    [property: Required] string[] Authors,
    [property: Range(1450, 2100)] int Year,
    Genre Genre,
    int Copies = 1) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Authors is { Length: 0 }) yield return new("at least one author", [nameof(Authors)]);
        var sum = Isbn.Select((c, i) => (c - '0') * (i % 2 == 0 ? 1 : 3)).Sum();
        if (Isbn.Length == 13 && Isbn.All(char.IsAsciiDigit) && sum % 10 != 0) yield return new("bad ISBN-13 check digit", [nameof(Isbn)]);
    }
}

public sealed record BookQuery(string? Author = null, int? Year = null, Genre? Genre = null, string Sort = "title", int Skip = 0, int Take = 20);

public sealed record BookPage(IReadOnlyList<Book> Items, int Total, string Sort);

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(Borrowed), "borrowed")]
[JsonDerivedType(typeof(Returned), "returned")]
public abstract record LoanEvent(string Isbn, Guid Member);
public sealed record Borrowed(string Isbn, Guid Member) : LoanEvent(Isbn, Member);
public sealed record Returned(string Isbn, Guid Member, bool Damaged) : LoanEvent(Isbn, Member);

public sealed record Loan(long Id, string Isbn, Guid Member, DateTimeOffset Due, bool Open);

public sealed class BookRepository
{
    private readonly ConcurrentDictionary<string, Book> _books = new(StringComparer.Ordinal);

    public BookRepository()
    {
        string[] titles = ["Dune", "Cosmos", "The Histories", "Matilda", "Neuromancer", "A Brief History of Time", "SPQR", "Momo"];
        for (int i = 0; i < titles.Length; i++)
        {
            var isbn = WithCheckDigit($"978000000{i:D3}");
            _books[isbn] = new Book(isbn, titles[i], [$"Author {(char)('A' + i % 3)}"], 1950 + i * 9, (Genre)(i % 4), 1 + i % 3);
        }
    }

    public static string WithCheckDigit(string twelve)
    {
        var sum = twelve.Select((c, i) => (c - '0') * (i % 2 == 0 ? 1 : 3)).Sum();
        return twelve + ((10 - sum % 10) % 10).ToString(CultureInfo.InvariantCulture);
    }

    public int Count => _books.Count;
    public Book? Find(string isbn) => _books.GetValueOrDefault(isbn);
    public bool TryAdd(Book book) => _books.TryAdd(book.Isbn, book);
    public bool Remove(string isbn) => _books.TryRemove(isbn, out _);

    public bool SetCopies(string isbn, int copies) =>
        _books.TryGetValue(isbn, out var b) && _books.TryUpdate(isbn, b with { Copies = copies }, b);

    public Book? Patch(string isbn, JsonObject patch)
    {
        if (!_books.TryGetValue(isbn, out var b)) return null;
        var node = JsonSerializer.SerializeToNode(b)!.AsObject();
        foreach (var (key, value) in patch) node[char.ToUpperInvariant(key[0]) + key[1..]] = value?.DeepClone();
        var updated = node.Deserialize<Book>()!;
        _books[isbn] = updated;
        return updated;
    }

    public BookPage Query(BookQuery q)
    {
        IEnumerable<Book> items = _books.Values;
        if (q.Author is { } a) items = items.Where(b => b.Authors.Any(x => x.Contains(a, StringComparison.OrdinalIgnoreCase)));
        if (q.Year is { } y) items = items.Where(b => b.Year >= y);
        if (q.Genre is { } g) items = items.Where(b => b.Genre == g);
        items = q.Sort switch
        {
            "year" => items.OrderBy(b => b.Year).ThenBy(b => b.Isbn, StringComparer.Ordinal),
            "-year" => items.OrderByDescending(b => b.Year),
            _ => items.OrderBy(b => b.Title, StringComparer.OrdinalIgnoreCase),
        };
        var list = items.ToList();
        return new BookPage(list.Skip(q.Skip).Take(Math.Clamp(q.Take, 1, 100)).ToList(), list.Count, q.Sort);
    }

    public object Stats(DateTimeOffset now) => new
    {
        at = now,
        total = _books.Count,
        copies = _books.Values.Sum(b => b.Copies),
        by_genre = _books.Values.GroupBy(b => b.Genre).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(), g => g.Count()),
        decades = _books.Values.Select(b => b.Year / 10 * 10).Distinct().Order().ToArray(),
    };
}

public sealed class LoanLedger
{
    private readonly List<Loan> _loans = [];
    private readonly Lock _gate = new();
    private long _next;

    public Loan Open(string isbn, Guid member, DateTimeOffset due)
    {
        var loan = new Loan(Interlocked.Increment(ref _next), isbn, member, due, true);
        lock (_gate) _loans.Add(loan);
        return loan;
    }

    public Loan? Close(string isbn, Guid member)
    {
        lock (_gate)
        {
            var i = _loans.FindIndex(l => l.Open && l.Isbn == isbn && l.Member == member);
            if (i < 0) return null;
            return _loans[i] = _loans[i] with { Open = false };
        }
    }

    public Loan[] For(Guid member) { lock (_gate) return _loans.Where(l => l.Member == member).ToArray(); }
    public int OpenCount(Guid member) { lock (_gate) return _loans.Count(l => l.Member == member && l.Open); }
    public int Overdue(DateTimeOffset now) { lock (_gate) return _loans.Count(l => l.Open && l.Due < now); }

    public async IAsyncEnumerable<Loan> StreamAsync([EnumeratorCancellation] CancellationToken ct)
    {
        Loan[] snapshot;
        lock (_gate) snapshot = [.. _loans];
        foreach (var l in snapshot)
        {
            await Task.Yield();
            ct.ThrowIfCancellationRequested();
            yield return l;
        }
    }
}

/// <summary>Scoped: applies loan events (uses the keyed "utc" clock and the options monitor).</summary>
public sealed class LoanDesk(BookRepository books, LoanLedger ledger, IOptionsMonitor<LibraryOptions> options,
    [FromKeyedServices("utc")] IClock clock, TenantAccessor tenant, ILogger<LoanDesk> log)
{
    public IResult Handle(LoanEvent evt)
    {
        if (books.Find(evt.Isbn) is not { } book) return Results.Problem(statusCode: 404, title: "unknown book", detail: evt.Isbn);
        switch (evt)
        {
            case Borrowed b:
                if (ledger.OpenCount(b.Member) >= options.CurrentValue.MaxLoansPerMember)
                    return Results.Problem(statusCode: 409, title: "loan limit reached");
                var loan = ledger.Open(book.Isbn, b.Member, clock.Now.AddDays(options.CurrentValue.LoanDays));
                log.LogInformation("{Tenant}: {Member} borrowed {Title}", tenant.Tenant, b.Member, book.Title);
                return Results.Created($"/v1/loans/member/{b.Member}", loan);
            case Returned r:
                return ledger.Close(r.Isbn, r.Member) is { } closed ? Results.Ok(closed) : Results.Problem(statusCode: 409, title: "no open loan");
            default:
                return Results.BadRequest();
        }
    }
}

public sealed class ReminderService(LoanLedger ledger, IOptionsMonitor<LibraryOptions> options, ILogger<ReminderService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.CurrentValue.ReminderSeconds)));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var overdue = ledger.Overdue(DateTimeOffset.UtcNow);
                if (overdue > 0) log.LogWarning("{Count} loans overdue", overdue);
            }
        }
        catch (OperationCanceledException) { }
    }
}

public sealed class RepositoryHealthCheck(BookRepository repo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(repo.Count > 0
            ? HealthCheckResult.Healthy("books loaded", new Dictionary<string, object> { ["count"] = repo.Count })
            : HealthCheckResult.Unhealthy("no books"));
}

public static class HealthJson
{
    public static Task WriteAsync(HttpContext ctx, HealthReport report)
    {
        ctx.Response.ContentType = "application/json; charset=utf-8";
        var body = new JsonObject
        {
            ["status"] = report.Status.ToString(),
            ["duration_ms"] = Math.Round(report.TotalDuration.TotalMilliseconds, 2),
            ["checks"] = new JsonArray(report.Entries.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Key,
                ["status"] = e.Value.Status.ToString(),
                ["data"] = JsonSerializer.SerializeToNode(e.Value.Data),
            }).ToArray()),
        };
        return ctx.Response.WriteAsync(body.ToJsonString());
    }
}

/// <summary>IMiddleware (factory-activated): endpoints marked [ApiKeyRequired] need X-Api-Key; also sets the scoped tenant.</summary>
public sealed class ApiKeyMiddleware(IOptionsSnapshot<LibraryOptions> options, TenantAccessor tenant) : IMiddleware
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Headers.TryGetValue("X-Tenant", out var t) && Regex.IsMatch(t.ToString(), "^[a-z0-9-]{1,32}$")) tenant.Tenant = t!;
        if (context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyRequiredAttribute>() is not null
            && context.Request.Headers["X-Api-Key"] != options.Value.ApiKey)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsJsonAsync(new ProblemDetails { Status = 401, Title = "missing or wrong X-Api-Key" });
            return;
        }
        await next(context);
    }
}

public sealed class LibraryExceptionHandler(IProblemDetailsService problems, ILogger<LibraryExceptionHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        log.LogDebug(exception, "handled");
        context.Response.StatusCode = exception is InvalidOperationException ? StatusCodes.Status409Conflict : StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Title = exception.GetType().Name, Detail = exception.Message },
        });
    }
}

public sealed class RetryHandler(int attempts) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        for (int i = 1; ; i++)
        {
            try
            {
                var response = await base.SendAsync(request, ct);
                if ((int)response.StatusCode < 500 || i >= attempts || request.Content is not null) return response;
                response.Dispose();
            }
            catch (HttpRequestException) when (i < attempts && request.Content is null) { }
            await Task.Delay(20 * i, ct);
        }
    }
}

// -- the workload: this process calling itself over loopback --------------------------------------------------------

public sealed class Workload(IHttpClientFactory factory, IServer server, IOptions<LibraryOptions> options)
{
    public async Task<string> RunAsync(CancellationToken ct)
    {
        using var http = factory.CreateClient("loopback");
        http.BaseAddress = SelfAddress();
        http.DefaultRequestHeaders.Add("X-Api-Key", options.Value.ApiKey);
        http.DefaultRequestHeaders.Add("X-Tenant", "train");
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter() } };
        var statuses = new List<int>();
        async Task<HttpResponseMessage> Track(Task<HttpResponseMessage> call) { var r = await call; statuses.Add((int)r.StatusCode); return r; }

        var page = await http.GetFromJsonAsync<BookPage>("v1/books?sort=year&take=5&author=author", json, ct);
        var first = page!.Items[0];
        using (var one = await Track(http.GetAsync($"v1/books/{first.Isbn}", ct))) await one.Content.ReadFromJsonAsync<Book>(json, ct);
        var isbn = BookRepository.WithCheckDigit($"979{Random.Shared.NextInt64(100_000_000, 999_999_999)}");
        var created = await Track(http.PostAsJsonAsync("v1/books", new Book(isbn, "Training Book", ["Trainer"], 2024, Genre.Science, 2), json, ct));
        var invalid = await Track(http.PostAsJsonAsync("v1/books", new Book("123", "", [], 1200, Genre.Fiction), json, ct));
        var problem = await invalid.Content.ReadFromJsonAsync<HttpValidationProblemDetails>(ct);
        (await Track(http.PutAsync($"v1/books/{isbn}/copies/7", null, ct))).Dispose();
        using (var patched = await Track(http.PatchAsync($"v1/books/{isbn}", JsonContent.Create(new { title = "Patched Title", year = 2025 }), ct)))
            await patched.Content.ReadAsStringAsync(ct);
        var member = Guid.NewGuid();
        (await Track(http.PostAsJsonAsync<LoanEvent>("v1/loans", new Borrowed(isbn, member), json, ct))).Dispose();
        (await Track(http.PostAsJsonAsync<LoanEvent>("v1/loans", new Returned(isbn, member, false), json, ct))).Dispose();
        var streamed = 0;
        await foreach (var _ in http.GetFromJsonAsAsyncEnumerable<Loan>("v1/loans/stream", json, ct)) streamed++;
        var mine = await http.GetStringAsync($"v1/loans/member/{member}", ct);
        var search = await http.GetStringAsync("v1/search/a/b/c?q=dune", ct);
        var stats = await http.GetStringAsync("v1/stats", ct);
        using var req = new HttpRequestMessage(HttpMethod.Get, "v1/books/export.csv");
        req.Headers.AcceptEncoding.ParseAdd("gzip");
        using var csv = await Track(http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct));
        var lines = (await csv.Content.ReadAsStringAsync(ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        using (var echo = await Track(http.PostAsync("v1/echo", new StringContent("olleh", Encoding.UTF8, "text/plain"), ct))) await echo.Content.ReadAsStringAsync(ct);
        (await Track(http.GetAsync("v1/boom", ct))).Dispose();
        (await Track(http.GetAsync("v1/books/0000000000000", ct))).Dispose();
        using (var noKey = new HttpRequestMessage(HttpMethod.Get, "v1/stats")) { noKey.Headers.Add("X-Api-Key", "wrong"); (await Track(http.SendAsync(noKey, ct))).Dispose(); }
        var ready = await http.GetStringAsync("healthz/ready", ct);
        (await Track(http.DeleteAsync($"v1/books/{isbn}", ct))).Dispose();
        return $"{statuses.Count} tracked calls, statuses {string.Join(",", statuses.Distinct().Order())}, {problem?.Errors.Count} validation errors, "
            + $"{streamed} loans streamed, {lines} csv lines, health {ready.Length} bytes, {mine.Length + search.Length + stats.Length} bytes";
    }

    private Uri SelfAddress()
    {
        var address = server.Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase));
        var local = Regex.Replace(address, @"^http://(\*|\+|0\.0\.0\.0|\[::\]|localhost)(?=:)", "http://127.0.0.1", RegexOptions.IgnoreCase);
        return new Uri(local.TrimEnd('/') + "/");
    }
}

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
