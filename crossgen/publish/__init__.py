"""Stage 5: publishing. ``registry``: container registries over their HTTP API v2 (manifests, blobs,
Basic and Bearer logins) and a local registry (Debian's docker-registry) on 127.0.0.1; ``dockerconfig``:
registry credentials from the Docker configuration, as the docker CLI reads them; ``push``: the
verified images of a build pushed to a registry, and the digests it serves checked against them."""
