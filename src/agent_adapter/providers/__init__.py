"""Provider adapters, all sans-IO.

A package per large wire protocol (openai, anthropic, gemini), a module per small one.
"""
