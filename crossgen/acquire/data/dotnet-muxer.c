/* A `dotnet` host (muxer) for a dotnet layout whose architecture has no `dotnet` executable at hand.
 *
 * NuGet serves the runtime packs (which hold libhostfxr.so) but not the `dotnet` executable; a local
 * dotnet layout gives it only for the machine's own architecture. This program does what the muxer
 * does before any .NET logic: it finds the newest host/fxr/<version>/libhostfxr.so beside itself and
 * hands the command line to hostfxr_main_startupinfo (the documented hostfxr entry point, hostfxr.h),
 * which does everything else (`--list-runtimes`, `--info`, running app.dll, roll-forward).
 *
 * Written for dotnet-composite-images; built by crossgen/acquire/muxer.py with the target's C
 * cross-compiler. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*startupinfo_fn)(int argc, const char **argv, const char *host_path, const char *dotnet_root,
                              const char *app_path);

/* compare dotted versions numerically (10.0.12 > 9.0.23); a pre-release (10.0.0-rc.1) sorts below its release */
static int version_cmp(const char *a, const char *b) {
    for (;;) {
        char *ea, *eb;
        long na = strtol(a, &ea, 10), nb = strtol(b, &eb, 10);
        if (na != nb) return na < nb ? -1 : 1;
        a = ea;
        b = eb;
        if (*a == '.' && *b == '.') { a++; b++; continue; }
        if (*a == '.') return 1;
        if (*b == '.') return -1;
        if (*a == '-' && *b == '-') return strcmp(a, b);
        if (*a == '-') return -1;
        if (*b == '-') return 1;
        return 0;
    }
}

int main(int argc, const char **argv) {
    char host_path[PATH_MAX], root[PATH_MAX], fxr_dir[PATH_MAX], fxr[PATH_MAX + 300], app_path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", host_path, sizeof host_path - 1);
    if (n <= 0) {
        perror("dotnet: cannot read /proc/self/exe");
        return 0x80008083;
    }
    host_path[n] = '\0';
    strcpy(root, host_path);
    char *slash = strrchr(root, '/');
    if (slash == NULL) return 0x80008083;
    *slash = '\0';
    snprintf(fxr_dir, sizeof fxr_dir, "%s/host/fxr", root);
    DIR *dir = opendir(fxr_dir);
    char best[256] = "";
    if (dir != NULL) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || strlen(e->d_name) >= sizeof best) continue;
            snprintf(fxr, sizeof fxr, "%s/%s/libhostfxr.so", fxr_dir, e->d_name);
            if (access(fxr, R_OK) == 0 && (best[0] == '\0' || version_cmp(e->d_name, best) > 0)) strcpy(best, e->d_name);
        }
        closedir(dir);
    }
    if (best[0] == '\0') {
        fprintf(stderr, "dotnet: no host/fxr/<version>/libhostfxr.so in %s\n", root);
        return 0x80008083; /* CoreHostLibMissingFailure, as the real muxer */
    }
    snprintf(fxr, sizeof fxr, "%s/%s/libhostfxr.so", fxr_dir, best);
    void *lib = dlopen(fxr, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dotnet: cannot load %s: %s\n", fxr, dlerror());
        return 0x80008082; /* CoreHostLibLoadFailure */
    }
    startupinfo_fn start = (startupinfo_fn)dlsym(lib, "hostfxr_main_startupinfo");
    if (start == NULL) {
        fprintf(stderr, "dotnet: %s has no hostfxr_main_startupinfo\n", fxr);
        return 0x80008084; /* CoreHostEntryPointFailure */
    }
    /* the muxer's own app path: <root>/dotnet.dll, which does not exist (that is what makes hostfxr
       treat this executable as the muxer rather than as an app host) */
    snprintf(app_path, sizeof app_path, "%s.dll", host_path);
    return start(argc, argv, host_path, root, app_path);
}
