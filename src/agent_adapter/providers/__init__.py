"""Provider adapters, all sans-IO: a package per large wire protocol (openai, anthropic, gemini), a module per small one."""
