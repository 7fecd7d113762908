using System;
using System.IO;
using System.Linq;

// No namespace: the runtime looks for a type named exactly StartupHook with a static Initialize().
internal class StartupHook
{
    public static void Initialize()
    {
        string? path = Environment.GetEnvironmentVariable("DCI_LOADED_ASSEMBLIES");
        if (string.IsNullOrEmpty(path))
            return;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            var names = AppDomain.CurrentDomain.GetAssemblies()
                .Where(a => !a.IsDynamic)
                .Select(a => a.GetName().Name ?? "")
                .Where(n => n.Length > 0 && n != "LoadedAssemblies")
                .Distinct()
                .OrderBy(n => n, StringComparer.Ordinal);
            File.AppendAllLines(path, names);
        };
    }
}
