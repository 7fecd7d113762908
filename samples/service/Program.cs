// Service sample (judged, never used for training): an order service shaped like a real one. Full WebApplication.CreateBuilder
// host, appsettings.json + environment configuration, validated options, quiet console logging (Warning unless configured),
// DI (singleton catalog/store, scoped order service and request context), a custom timing middleware, route groups with
// parameters, System.Text.Json records, DataAnnotations validation returning ProblemDetails, health checks, and an
// IHttpClientFactory client that calls the service itself over loopback. GET / (the start-up probe) goes through all of it:
// middleware -> DI -> a JSON POST to its own /api/orders -> text answer; GET /jit reports jit-methods and first-request-ms.
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    // appsettings.json lies next to service.dll; the launcher may start us from any working directory.
    ContentRootPath = AppContext.BaseDirectory,
});

// Logging: the default providers (console among them), Warning and above unless configuration says otherwise
// (appsettings.json Logging:LogLevel, or e.g. Logging__LogLevel__Default=Information in the environment).
builder.Logging.SetMinimumLevel(LogLevel.Warning);

builder.Services.AddOptions<OrdersOptions>()
    .Bind(builder.Configuration.GetSection(OrdersOptions.Section))
    .ValidateDataAnnotations()
    .ValidateOnStart();

builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
    o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
});
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
{
    var info = ctx.HttpContext.RequestServices.GetService<RequestContext>();
    if (info is not null) ctx.ProblemDetails.Extensions["requestId"] = info.RequestId;
});

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<Catalog>();
builder.Services.AddSingleton<OrderStore>();
builder.Services.AddSingleton<FirstRequest>();
builder.Services.AddScoped<RequestContext>();
builder.Services.AddScoped<OrderService>();
builder.Services.AddHttpContextAccessor();
builder.Services.AddTransient<RequestIdHandler>();
builder.Services.AddHttpClient<SelfClient>((sp, http) =>
    {
        var options = sp.GetRequiredService<IOptions<OrdersOptions>>().Value;
        http.Timeout = TimeSpan.FromSeconds(options.SelfCallTimeoutSeconds);
        http.DefaultRequestHeaders.UserAgent.ParseAdd($"{options.ServiceName}-self/1.0");
    })
    .AddHttpMessageHandler<RequestIdHandler>()
    // Loopback only: never route the call to ourselves through an HTTP(S)_PROXY from the environment.
    .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
builder.Services.AddHealthChecks()
    .AddCheck<CatalogHealthCheck>("catalog")
    .AddCheck("memory", () => GC.GetTotalMemory(false) < 1L << 30 ? HealthCheckResult.Healthy() : HealthCheckResult.Degraded("over 1 GiB"));

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseMiddleware<RequestTimingMiddleware>();

// Start-up probe: the first request a real service serves, end to end (middleware, DI, a JSON call to itself).
app.MapGet("/", async (SelfClient self, FirstRequest first, CancellationToken ct) =>
{
    var order = await self.PlaceProbeOrderAsync(ct);
    first.Record();
    return Results.Text($"Hello from {RuntimeInformation.FrameworkDescription} (ASP.NET Core service): order {order.Id} for {order.Customer}, "
        + $"{order.Lines.Count} lines, total {order.Total:F2} {order.Currency}\n");
});
app.MapGet("/jit", (FirstRequest first) =>
{
    first.Record();
    return Results.Text($"jit-methods: {System.Runtime.JitInfo.GetCompiledMethodCount()}\nfirst-request-ms: {first.Ms:F1}\n");
});
app.MapHealthChecks("/health");

var api = app.MapGroup("/api");
api.MapGet("/info", (IOptionsSnapshot<OrdersOptions> options, IHostEnvironment env, Catalog catalog) =>
    TypedResults.Ok(new ServiceInfo(options.Value.ServiceName, env.EnvironmentName, options.Value.Currency, options.Value.TaxRate, catalog.Count,
        RuntimeInformation.FrameworkDescription)));

var products = api.MapGroup("/products");
products.MapGet("/", (Catalog catalog, string? category, int page = 1, int pageSize = 10) =>
{
    if (page < 1 || pageSize is < 1 or > 100)
        return Results.ValidationProblem(new Dictionary<string, string[]> { ["paging"] = ["page >= 1 and 1 <= pageSize <= 100"] });
    var all = catalog.All().Where(p => category is null || p.Category.Equals(category, StringComparison.OrdinalIgnoreCase)).ToList();
    return Results.Ok(new PageOf<Product>(all.Skip((page - 1) * pageSize).Take(pageSize).ToList(), page, pageSize, all.Count));
});
products.MapGet("/{id:int}", Results<Ok<Product>, NotFound> (int id, Catalog catalog) =>
    catalog.Find(id) is { } p ? TypedResults.Ok(p) : TypedResults.NotFound());

var orders = api.MapGroup("/orders");
orders.MapPost("/", Results<Created<OrderResponse>, ValidationProblem> (OrderRequest request, OrderService service) =>
    service.Place(request) switch
    {
        { Order: { } order } => TypedResults.Created($"/api/orders/{order.Id}", order),
        var failed => TypedResults.ValidationProblem(failed.Errors!),
    })
    .AddEndpointFilter<ValidationFilter<OrderRequest>>();
orders.MapGet("/{id:guid}", Results<Ok<OrderResponse>, NotFound> (Guid id, OrderStore store) =>
    store.Get(id) is { } o ? TypedResults.Ok(o) : TypedResults.NotFound());
orders.MapDelete("/{id:guid}", Results<NoContent, NotFound> (Guid id, OrderService service) =>
    service.Cancel(id) ? TypedResults.NoContent() : TypedResults.NotFound());

app.Run();

// -- configuration --------------------------------------------------------------------------------------------------

public sealed class OrdersOptions
{
    public const string Section = "Orders";
    [Required, MinLength(1)] public string ServiceName { get; set; } = "";
    [Required, RegularExpression("^[A-Z]{3}$")] public string Currency { get; set; } = "EUR";
    [Range(0.0, 1.0)] public decimal TaxRate { get; set; }
    [Range(1, 1000)] public int MaxLinesPerOrder { get; set; } = 20;
    [Range(1, 60_000)] public int SlowRequestMs { get; set; } = 1000;
    [Range(1, 300)] public int SelfCallTimeoutSeconds { get; set; } = 30;
}

// -- contracts (JSON) -------------------------------------------------------------------------------------------------

[JsonConverter(typeof(JsonStringEnumConverter<OrderStatus>))]
public enum OrderStatus { Placed, Cancelled }

public sealed record Product(int Id, string Name, string Category, decimal Price, int Stock);

public sealed record PageOf<T>(IReadOnlyList<T> Items, int Page, int PageSize, int Total);

public sealed record ServiceInfo(string Name, string Environment, string Currency, decimal TaxRate, int Products, string Runtime);

public sealed record OrderLineRequest(
    [property: Range(1, int.MaxValue)] int ProductId,
    [property: Range(1, 100)] int Quantity);

public sealed record OrderRequest(
    [property: Required, StringLength(80, MinimumLength = 2)] string Customer,
    [property: Required, EmailAddress] string Email,
    [property: Required, MinLength(1)] List<OrderLineRequest> Lines,
    [property: StringLength(16)] string? Coupon = null);

public sealed record OrderLineResponse(int ProductId, string Name, int Quantity, decimal UnitPrice, decimal Amount);

public sealed record OrderResponse(Guid Id, string Customer, IReadOnlyList<OrderLineResponse> Lines, decimal Subtotal, decimal Discount,
    decimal Tax, decimal Total, string Currency, OrderStatus Status, DateTimeOffset CreatedAt, string RequestId);

// -- services -------------------------------------------------------------------------------------------------------

/// <summary>Singleton: the product catalogue (in memory, thread-safe reads).</summary>
public sealed class Catalog
{
    private static readonly string[] Categories = ["books", "games", "garden", "kitchen", "tools"];
    private readonly Dictionary<int, Product> _products;

    public Catalog()
    {
        _products = Enumerable.Range(1, 40)
            .Select(i => new Product(i, $"{Categories[i % Categories.Length]} item {i}", Categories[i % Categories.Length],
                Math.Round(3.5m + i * 1.25m, 2), 5 + i * 3 % 17))
            .ToDictionary(p => p.Id);
    }

    public int Count => _products.Count;
    public Product? Find(int id) => _products.GetValueOrDefault(id);
    public IEnumerable<Product> All() => _products.Values.OrderBy(p => p.Id);
}

/// <summary>Singleton: placed orders.</summary>
public sealed class OrderStore
{
    private readonly ConcurrentDictionary<Guid, OrderResponse> _orders = new();
    public void Add(OrderResponse order) => _orders[order.Id] = order;
    public OrderResponse? Get(Guid id) => _orders.GetValueOrDefault(id);
    public bool TryUpdate(Guid id, Func<OrderResponse, OrderResponse> change) =>
        _orders.TryGetValue(id, out var old) && _orders.TryUpdate(id, change(old), old);
}

/// <summary>Scoped: who is asking (filled in by the middleware).</summary>
public sealed class RequestContext
{
    public string RequestId { get; set; } = "";
    public long StartTimestamp { get; set; }
}

/// <summary>Scoped: prices and stores orders; business-rule errors come back as validation errors.</summary>
public sealed class OrderService(Catalog catalog, OrderStore store, IOptionsSnapshot<OrdersOptions> options, RequestContext request,
    TimeProvider clock, ILogger<OrderService> logger)
{
    public record Outcome(OrderResponse? Order, Dictionary<string, string[]>? Errors);

    public Outcome Place(OrderRequest req)
    {
        var o = options.Value;
        var errors = new Dictionary<string, string[]>();
        if (req.Lines.Count > o.MaxLinesPerOrder) errors["lines"] = [$"at most {o.MaxLinesPerOrder} lines per order"];
        var lines = new List<OrderLineResponse>();
        for (int i = 0; i < req.Lines.Count; i++)
        {
            var line = req.Lines[i];
            if (catalog.Find(line.ProductId) is not { } product)
                errors[$"lines[{i}].productId"] = [$"unknown product {line.ProductId}"];
            else if (line.Quantity > product.Stock)
                errors[$"lines[{i}].quantity"] = [$"only {product.Stock} of product {product.Id} in stock"];
            else
                lines.Add(new OrderLineResponse(product.Id, product.Name, line.Quantity, product.Price, product.Price * line.Quantity));
        }
        if (errors.Count > 0)
        {
            logger.LogInformation("Order from {Customer} rejected: {Errors}", req.Customer, string.Join("; ", errors.Keys));
            return new Outcome(null, errors);
        }
        var subtotal = lines.Sum(l => l.Amount);
        var discount = req.Coupon?.Equals("WELCOME10", StringComparison.OrdinalIgnoreCase) == true ? Math.Round(subtotal * 0.10m, 2) : 0m;
        var tax = Math.Round((subtotal - discount) * o.TaxRate, 2, MidpointRounding.AwayFromZero);
        var now = clock.GetUtcNow();
#if NET9_0_OR_GREATER
        var id = Guid.CreateVersion7(now);
#else   // .NET 8: no version 7 GUIDs
        var id = Guid.NewGuid();
#endif
        var order = new OrderResponse(id, req.Customer, lines, subtotal, discount, tax, subtotal - discount + tax,
            o.Currency, OrderStatus.Placed, now, request.RequestId);
        store.Add(order);
        logger.LogInformation("Order {OrderId} placed by {Customer}: {Total} {Currency}", order.Id, order.Customer, order.Total, order.Currency);
        return new Outcome(order, null);
    }

    public bool Cancel(Guid id) => store.TryUpdate(id, o => o with { Status = OrderStatus.Cancelled });
}

/// <summary>Singleton: when the first probe request was answered (ms since process start).</summary>
public sealed class FirstRequest
{
#if NET9_0_OR_GREATER
    private readonly Lock _lock = new();
#else   // .NET 8: no System.Threading.Lock; a plain monitor
    private readonly object _lock = new();
#endif
    private double? _ms;
    public double? Ms { get { lock (_lock) return _ms; } }
    public void Record()
    {
        lock (_lock) _ms ??= Startup.ElapsedMs();
    }
}

public sealed class CatalogHealthCheck(Catalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(catalog.Count > 0 ? HealthCheckResult.Healthy($"{catalog.Count} products") : HealthCheckResult.Unhealthy("empty catalog"));
}

// -- outgoing HTTP: the service calls itself --------------------------------------------------------------------------

/// <summary>Typed HttpClient (IHttpClientFactory) for calls to this very process, at the address the server listens on.</summary>
public sealed class SelfClient(HttpClient http, IServer server)
{
    public async Task<OrderResponse> PlaceProbeOrderAsync(CancellationToken ct)
    {
        var request = new OrderRequest("Probe Customer", "probe@example.com", [new(3, 2), new(7, 1), new(12, 4)], "WELCOME10");
        using var response = await http.PostAsJsonAsync(new Uri(BaseAddress(), "/api/orders"), request, ct);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"self call POST /api/orders: HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        return await response.Content.ReadFromJsonAsync<OrderResponse>(ct) ?? throw new InvalidOperationException("empty order response");
    }

    /// <summary>The server's own listening address, read at request time (the port may have been chosen by the OS).
    /// Wildcard and "localhost" bindings are reached through 127.0.0.1; plain HTTP is preferred over HTTPS.</summary>
    private Uri BaseAddress()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses.OrderBy(a => a.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? 1 : 0))
        {
            var binding = BindingAddress.Parse(address);
            if (binding.IsUnixPipe || binding.IsNamedPipe) continue;
            var host = binding.Host switch
            {
                "localhost" or "0.0.0.0" or "[::]" or "::" or "*" or "+" or "" => "127.0.0.1",
                var h => h,
            };
            return new Uri($"{binding.Scheme}://{host}:{binding.Port}/");
        }
        throw new InvalidOperationException($"no TCP listening address among: {string.Join(", ", addresses)}");
    }
}

/// <summary>Passes the incoming request id on to outgoing calls (a correlation header, as services do).</summary>
public sealed class RequestIdHandler(IHttpContextAccessor accessor) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var id = accessor.HttpContext?.RequestServices.GetService<RequestContext>()?.RequestId;
        if (!string.IsNullOrEmpty(id)) request.Headers.TryAddWithoutValidation(RequestTimingMiddleware.RequestIdHeader, id);
        return base.SendAsync(request, ct);
    }
}

// -- middleware and filters -------------------------------------------------------------------------------------------

/// <summary>Request id (kept from the caller or new), Server-Timing and X-Service headers, a log line per request
/// (Information; Warning when slower than Orders:SlowRequestMs).</summary>
public sealed class RequestTimingMiddleware(RequestDelegate next, ILogger<RequestTimingMiddleware> logger, IOptionsMonitor<OrdersOptions> options)
{
    public const string RequestIdHeader = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context, RequestContext info)
    {
        info.StartTimestamp = Stopwatch.GetTimestamp();
        var incoming = context.Request.Headers[RequestIdHeader].ToString();
        info.RequestId = incoming.Length is > 0 and <= 64 ? incoming : Guid.NewGuid().ToString("N")[..16];
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers[RequestIdHeader] = info.RequestId;
            headers["X-Service"] = options.CurrentValue.ServiceName;
            headers["Server-Timing"] = $"app;dur={Stopwatch.GetElapsedTime(info.StartTimestamp).TotalMilliseconds:F1}";
            return Task.CompletedTask;
        });
        try
        {
            await next(context);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(info.StartTimestamp);
            var level = elapsed.TotalMilliseconds > options.CurrentValue.SlowRequestMs ? LogLevel.Warning : LogLevel.Information;
            logger.Log(level, "{Method} {Path} -> {Status} in {Elapsed:F1} ms [{RequestId}]",
                context.Request.Method, context.Request.Path, context.Response.StatusCode, elapsed.TotalMilliseconds, info.RequestId);
        }
    }
}

/// <summary>DataAnnotations validation of a bound body (and the objects in its list properties) before the handler runs.</summary>
public sealed class ValidationFilter<T> : IEndpointFilter where T : class
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.Arguments.OfType<T>().FirstOrDefault() is not { } body)
            return TypedResults.Problem("request body required", statusCode: StatusCodes.Status400BadRequest);
        var errors = new Dictionary<string, string[]>();
        Collect(body, "", errors);
        return errors.Count > 0 ? TypedResults.ValidationProblem(errors) : await next(context);
    }

    private static void Collect(object instance, string prefix, Dictionary<string, string[]> errors)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true);
        foreach (var r in results)
            foreach (var member in r.MemberNames.DefaultIfEmpty(""))
            {
                var key = prefix + JsonNamingPolicy.CamelCase.ConvertName(member);
                errors[key] = [.. errors.GetValueOrDefault(key) ?? [], r.ErrorMessage ?? "invalid"];
            }
        foreach (var prop in instance.GetType().GetProperties())
        {
            if (prop.PropertyType == typeof(string) || prop.GetValue(instance) is not System.Collections.IEnumerable items) continue;
            var i = 0;
            foreach (var item in items)
            {
                if (item is not null) Collect(item, $"{prefix}{JsonNamingPolicy.CamelCase.ConvertName(prop.Name)}[{i}].", errors);
                i++;
            }
        }
    }
}

static class Startup
{
    // Milliseconds since the process started. DCI_START_NS (Unix time in ns, set by the launcher with
    // `date +%s%N` right before exec) is precise; Process.StartTime has 10 ms resolution.
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
