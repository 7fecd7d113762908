"""Stage 2, compile: version bubbles, Crossgen2 in a container, the sample apps it compiles, and
reading what ReadyToRun images contain."""
