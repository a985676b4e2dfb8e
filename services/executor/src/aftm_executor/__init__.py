"""AFTM executor: signals to orders through the gateway. Arrives with the live pipeline."""
