"""Foundation every stage stands on: the error users see, terminal output, settings, the build
folder's paths, atomic file writes and safe archive extraction. Imports nothing of the stages."""
