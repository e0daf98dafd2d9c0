"""A tiny file for the set-up demo: complete the body of `fibonacci`."""


def fibonacci(n: int) -> int:
    
