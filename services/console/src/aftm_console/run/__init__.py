"""`aftm run`: the three services as local child processes on the simulated exchange."""
