"""The `aftm` console command."""
