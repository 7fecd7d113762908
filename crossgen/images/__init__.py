"""Stage 3, images: the variant catalog, Dockerfile contexts staged from the compiled bubbles, and
the base images everything stands on."""
