"""Stage 4, verify: prove each image is what its labels claim and that it works."""
