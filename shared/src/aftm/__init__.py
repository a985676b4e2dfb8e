"""AFTM common library: the vocabulary and wire format every service shares."""
