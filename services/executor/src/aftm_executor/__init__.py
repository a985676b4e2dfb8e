"""AFTM executor: signals to orders through the gateway, with a journal and risk checks."""
