"""Stage 5, report: measure what the images are (sizes, sharing, startup), analyse it against the
baseline and render tables, charts and the README block."""
