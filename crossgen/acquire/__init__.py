"""Stage 1, acquire: resolve a .NET version from the sources (official metadata, NuGet, a local
layout), download it into the SHA-512 cache, verify it and lay out a dotnet root."""
