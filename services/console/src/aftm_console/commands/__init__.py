"""The live subcommands: each module adds its parsers and holds the operations they call.

An operation takes the open `Services` and plain values and prints its result, so the menu
calls exactly the same functions as the subcommands.
"""
